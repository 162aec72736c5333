package metrics

import (
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// DeviceStatus is what metrics and /readyz need to know of one device at
// scrape time. Counters (scans, errors, ...) come from the hooks instead.
type DeviceStatus struct {
	Name      string
	Driver    string
	State     string // "connecting", "up", "down", "demoted", "stopped"
	Connected bool   // the last scans succeeded (tagbridge_device_up)
	Demoted   bool   // tagbridge_device_demoted
	LastError string // shown in /readyz problems when no device is reachable
}

// LinkStats is a snapshot of one shared bus (a TCP connection, a serial
// line) that several devices may use.
type LinkStats struct {
	Link         string // "tcp 10.0.0.5:502", "serial /dev/ttyUSB0"
	Connected    bool
	Devices      int
	QueueDepth   int              // jobs waiting (writes + polls)
	Requests     uint64           // requests that reached the wire
	Timeouts     uint64           // requests with no reply in time
	FrameErrors  uint64           // malformed replies
	ConnErrors   uint64           // connection losses and failed opens
	Reconnects   uint64           // successful opens after the first
	ExceptionsBy map[uint8]uint64 // Modbus exception replies by code
}

// OPCUAStats is a snapshot of the OPC UA server.
type OPCUAStats struct {
	Channels          int
	Sessions          int
	Subscriptions     int
	MonitoredItems    int
	NotificationsSent uint64
	Requests          uint64
	// Writes the server answered itself without reaching the scheduler
	// (BadUserAccessDenied, BadTypeMismatch, ...), by status name. They are
	// added to the writes WriteDone counted, in tagbridge_opcua_writes_total.
	// Leave nil if the server does not count them.
	RejectedWrites map[string]uint64
}

// DeviceStatusProvider lists every configured device, read at each scrape.
type DeviceStatusProvider interface{ DeviceStatus() []DeviceStatus }

// LinkStatsProvider lists every open link, read at each scrape.
type LinkStatsProvider interface{ LinkStats() []LinkStats }

// OPCUAStatsProvider reports the OPC UA server's counters, read at each scrape.
type OPCUAStatsProvider interface{ OPCUAStats() OPCUAStats }

// DeviceStatusFunc adapts a function to DeviceStatusProvider.
type DeviceStatusFunc func() []DeviceStatus

// DeviceStatus calls f (nil f: no devices).
func (f DeviceStatusFunc) DeviceStatus() []DeviceStatus {
	if f == nil {
		return nil
	}
	return f()
}

// LinkStatsFunc adapts a function to LinkStatsProvider.
type LinkStatsFunc func() []LinkStats

// LinkStats calls f (nil f: no links).
func (f LinkStatsFunc) LinkStats() []LinkStats {
	if f == nil {
		return nil
	}
	return f()
}

// OPCUAStatsFunc adapts a function to OPCUAStatsProvider.
type OPCUAStatsFunc func() OPCUAStats

// OPCUAStats calls f (nil f: zero stats).
func (f OPCUAStatsFunc) OPCUAStats() OPCUAStats {
	if f == nil {
		return OPCUAStats{}
	}
	return f()
}

// Providers are the scrape-time sources; a nil field omits its metrics.
type Providers struct {
	Devices DeviceStatusProvider
	Links   LinkStatsProvider
	OPCUA   OPCUAStatsProvider
}

// SetProviders replaces the scrape-time sources. Safe to call at any time,
// e.g. again after a reload rebuilt the server or the scheduler.
func (m *Metrics) SetProviders(p Providers) { m.prov.Store(&p) }

// providerCollector turns the providers' snapshots into metrics at scrape
// time, so nothing polls them between scrapes.
type providerCollector struct {
	m *Metrics

	devUp, devDemoted                                        *prometheus.Desc
	linkQueue, linkConnected, linkDevices                    *prometheus.Desc
	linkRequests, linkTimeouts, linkExceptions, linkFrameErr *prometheus.Desc
	linkConnErr, linkReconnects                              *prometheus.Desc
	uaChannels, uaSessions, uaSubs, uaItems                  *prometheus.Desc
	uaNotif, uaRequests, uaWrites                            *prometheus.Desc
}

func newProviderCollector(m *Metrics) *providerCollector {
	d := prometheus.NewDesc
	dev, link := []string{"device"}, []string{"link"}
	return &providerCollector{
		m:              m,
		devUp:          d("tagbridge_device_up", "1 if the device's last scans succeeded, else 0.", dev, nil),
		devDemoted:     d("tagbridge_device_demoted", "1 while the device is demoted (not polled, tags BadOutOfService).", dev, nil),
		linkQueue:      d("tagbridge_link_queue_depth", "Requests waiting for the link (writes and polls).", link, nil),
		linkConnected:  d("tagbridge_link_connected", "1 if the link's connection is open.", link, nil),
		linkDevices:    d("tagbridge_link_devices", "Devices sharing the link.", link, nil),
		linkRequests:   d("tagbridge_link_requests_total", "Requests sent on the link.", link, nil),
		linkTimeouts:   d("tagbridge_link_timeouts_total", "Requests on the link that got no reply in time.", link, nil),
		linkExceptions: d("tagbridge_link_exceptions_total", "Modbus exception replies on the link by exception code.", []string{"link", "code"}, nil),
		linkFrameErr:   d("tagbridge_link_frame_errors_total", "Malformed replies on the link (CRC/LRC, garbage).", link, nil),
		linkConnErr:    d("tagbridge_link_connection_errors_total", "Connection losses and failed opens of the link.", link, nil),
		linkReconnects: d("tagbridge_link_reconnects_total", "Successful opens of the link after the first.", link, nil),
		uaChannels:     d("tagbridge_opcua_channels", "Open OPC UA secure channels.", nil, nil),
		uaSessions:     d("tagbridge_opcua_sessions", "Active OPC UA sessions.", nil, nil),
		uaSubs:         d("tagbridge_opcua_subscriptions", "OPC UA subscriptions.", nil, nil),
		uaItems:        d("tagbridge_opcua_monitored_items", "OPC UA monitored items.", nil, nil),
		uaNotif:        d("tagbridge_opcua_notifications_total", "Data change notifications sent to OPC UA clients.", nil, nil),
		uaRequests:     d("tagbridge_opcua_requests_total", "OPC UA service requests handled.", nil, nil),
		uaWrites:       d("tagbridge_opcua_writes_total", "OPC UA client writes by result status.", []string{"status"}, nil),
	}
}

func (c *providerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.devUp, c.devDemoted, c.linkQueue, c.linkConnected, c.linkDevices, c.linkRequests,
		c.linkTimeouts, c.linkExceptions, c.linkFrameErr, c.linkConnErr, c.linkReconnects,
		c.uaChannels, c.uaSessions, c.uaSubs, c.uaItems, c.uaNotif, c.uaRequests, c.uaWrites,
	} {
		ch <- d
	}
}

func (c *providerCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.m.prov.Load()
	if p == nil {
		p = &Providers{}
	}
	if p.Devices != nil {
		c.collectDevices(ch, p.Devices.DeviceStatus())
	}
	if p.Links != nil {
		c.collectLinks(ch, p.Links.LinkStats())
	}
	writes := c.m.writeCounts()
	if p.OPCUA != nil {
		st := p.OPCUA.OPCUAStats()
		emit(ch, c.uaChannels, prometheus.GaugeValue, float64(st.Channels))
		emit(ch, c.uaSessions, prometheus.GaugeValue, float64(st.Sessions))
		emit(ch, c.uaSubs, prometheus.GaugeValue, float64(st.Subscriptions))
		emit(ch, c.uaItems, prometheus.GaugeValue, float64(st.MonitoredItems))
		emit(ch, c.uaNotif, prometheus.CounterValue, float64(st.NotificationsSent))
		emit(ch, c.uaRequests, prometheus.CounterValue, float64(st.Requests))
		for s, n := range st.RejectedWrites {
			writes[s] += n
		}
	}
	for s, n := range writes {
		emit(ch, c.uaWrites, prometheus.CounterValue, float64(n), s)
	}
}

// emit sends one metric; label values are made valid UTF-8 first, because
// client_golang rejects anything else and a name from a provider must never
// fail or panic a scrape.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	for i, l := range labels {
		labels[i] = strings.ToValidUTF8(l, "\uFFFD")
	}
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}

// b2f is a Prometheus boolean.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *providerCollector) collectDevices(ch chan<- prometheus.Metric, devs []DeviceStatus) {
	seen := make(map[string]bool, len(devs))
	for _, d := range devs {
		if seen[d.Name] { // a duplicate series would fail the whole scrape
			continue
		}
		seen[d.Name] = true
		emit(ch, c.devUp, prometheus.GaugeValue, b2f(d.Connected), d.Name)
		emit(ch, c.devDemoted, prometheus.GaugeValue, b2f(d.Demoted), d.Name)
	}
}

func (c *providerCollector) collectLinks(ch chan<- prometheus.Metric, links []LinkStats) {
	seen := make(map[string]bool, len(links))
	for _, l := range links {
		if seen[l.Link] {
			continue
		}
		seen[l.Link] = true
		g := func(d *prometheus.Desc, v float64) {
			emit(ch, d, prometheus.GaugeValue, v, l.Link)
		}
		ctr := func(d *prometheus.Desc, v uint64) {
			emit(ch, d, prometheus.CounterValue, float64(v), l.Link)
		}
		g(c.linkQueue, float64(l.QueueDepth))
		g(c.linkConnected, b2f(l.Connected))
		g(c.linkDevices, float64(l.Devices))
		ctr(c.linkRequests, l.Requests)
		ctr(c.linkTimeouts, l.Timeouts)
		ctr(c.linkFrameErr, l.FrameErrors)
		ctr(c.linkConnErr, l.ConnErrors)
		ctr(c.linkReconnects, l.Reconnects)
		codes := make([]int, 0, len(l.ExceptionsBy))
		for code := range l.ExceptionsBy {
			codes = append(codes, int(code))
		}
		sort.Ints(codes)
		for _, code := range codes {
			emit(ch, c.linkExceptions, prometheus.CounterValue,
				float64(l.ExceptionsBy[uint8(code)]), l.Link, strconv.Itoa(code))
		}
	}
}
