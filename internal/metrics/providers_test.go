package metrics_test

import (
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/metrics"
)

func TestProvidersReadAtScrapeTime(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.BuildInfo{})
	devs := []metrics.DeviceStatus{
		{Name: "press3", State: "up", Connected: true},
		{Name: "oven", State: "demoted", Demoted: true},
		{Name: "oven", State: "up", Connected: true}, // duplicate: dropped, not a failed scrape
	}
	links := []metrics.LinkStats{{
		Link: "serial /dev/ttyUSB0", Connected: true, Devices: 2, QueueDepth: 3,
		Requests: 100, Timeouts: 4, FrameErrors: 1, ConnErrors: 2, Reconnects: 1,
		ExceptionsBy: map[uint8]uint64{2: 5, 11: 1},
	}}
	ua := metrics.OPCUAStats{
		Channels: 2, Sessions: 2, Subscriptions: 3, MonitoredItems: 40,
		NotificationsSent: 1234, Requests: 99,
		RejectedWrites: map[string]uint64{"BadUserAccessDenied": 2, "Good": 1},
	}
	m.SetProviders(metrics.Providers{
		Devices: metrics.DeviceStatusFunc(func() []metrics.DeviceStatus { return devs }),
		Links:   metrics.LinkStatsFunc(func() []metrics.LinkStats { return links }),
		OPCUA:   metrics.OPCUAStatsFunc(func() metrics.OPCUAStats { return ua }),
	})
	m.WriteDone("press3", drivers.Good)

	wantLines(t, samples(t, m),
		`tagbridge_device_up{device="press3"} 1`,
		`tagbridge_device_up{device="oven"} 0`,
		`tagbridge_device_demoted{device="oven"} 1`,
		`tagbridge_device_demoted{device="press3"} 0`,
		`tagbridge_link_queue_depth{link="serial /dev/ttyUSB0"} 3`,
		`tagbridge_link_connected{link="serial /dev/ttyUSB0"} 1`,
		`tagbridge_link_devices{link="serial /dev/ttyUSB0"} 2`,
		`tagbridge_link_requests_total{link="serial /dev/ttyUSB0"} 100`,
		`tagbridge_link_timeouts_total{link="serial /dev/ttyUSB0"} 4`,
		`tagbridge_link_frame_errors_total{link="serial /dev/ttyUSB0"} 1`,
		`tagbridge_link_connection_errors_total{link="serial /dev/ttyUSB0"} 2`,
		`tagbridge_link_reconnects_total{link="serial /dev/ttyUSB0"} 1`,
		`tagbridge_link_exceptions_total{code="2",link="serial /dev/ttyUSB0"} 5`,
		`tagbridge_link_exceptions_total{code="11",link="serial /dev/ttyUSB0"} 1`,
		`tagbridge_opcua_channels 2`,
		`tagbridge_opcua_sessions 2`,
		`tagbridge_opcua_subscriptions 3`,
		`tagbridge_opcua_monitored_items 40`,
		`tagbridge_opcua_notifications_total 1234`,
		`tagbridge_opcua_requests_total 99`,
		`tagbridge_opcua_writes_total{status="Good"} 2`, // 1 from WriteDone + 1 rejected by the server
		`tagbridge_opcua_writes_total{status="BadUserAccessDenied"} 2`,
	)

	// A later snapshot replaces the earlier one: removed devices vanish.
	devs = devs[:1]
	ua.Sessions = 0
	got := samples(t, m)
	noLinePrefix(t, got, `tagbridge_device_up{device="oven"}`)
	wantLines(t, got, `tagbridge_opcua_sessions 0`)
}

func TestNoProvidersNoGauges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    metrics.Providers
	}{
		{"never set", metrics.Providers{}},
		{"nil funcs", metrics.Providers{
			Devices: metrics.DeviceStatusFunc(nil),
			Links:   metrics.LinkStatsFunc(nil),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.BuildInfo{})
			m.SetProviders(tt.p)
			got := samples(t, m)
			noLinePrefix(t, got, "tagbridge_device_up")
			noLinePrefix(t, got, "tagbridge_link_")
			noLinePrefix(t, got, "tagbridge_opcua_sessions")
		})
	}
}
