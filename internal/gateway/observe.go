package gateway

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/modbus"
	"github.com/tagbridge/tagbridge/internal/metrics"
)

// newMetrics builds the Prometheus metrics; providers are attached once the
// scheduler and the server exist.
func (g *Gateway) newMetrics() *metrics.Metrics {
	return metrics.New(metrics.BuildInfo{Version: g.opt.Version, Commit: g.opt.Commit, GoVersion: runtime.Version()})
}

func (g *Gateway) attachProviders() {
	devs := metrics.DeviceStatusFunc(func() []metrics.DeviceStatus {
		st := g.sched.Status()
		out := make([]metrics.DeviceStatus, len(st))
		for i, s := range st {
			out[i] = metrics.DeviceStatus{Name: s.Name, Driver: s.Driver, State: s.State,
				Connected: s.Connected, Demoted: s.Demoted, LastError: s.LastError}
		}
		return out
	})
	links := metrics.LinkStatsFunc(func() []metrics.LinkStats {
		drv, err := drivers.Lookup("modbus")
		if err != nil {
			return nil
		}
		md, ok := drv.(*modbus.Driver)
		if !ok {
			return nil
		}
		var out []metrics.LinkStats
		for _, l := range md.LinkStats() {
			out = append(out, metrics.LinkStats{Link: l.Link, Connected: l.Connected, Devices: l.Devices,
				QueueDepth: l.QueueDepth, Requests: l.Requests, Timeouts: l.Timeouts, FrameErrors: l.FrameErrors,
				ConnErrors: l.ConnErrors, Reconnects: l.Reconnects, ExceptionsBy: l.ExceptionsBy})
		}
		return out
	})
	ua := metrics.OPCUAStatsFunc(func() metrics.OPCUAStats {
		s := g.ua.Stats()
		return metrics.OPCUAStats{Channels: s.Channels, Sessions: s.Sessions, Subscriptions: s.Subscriptions,
			MonitoredItems: s.MonitoredItems, NotificationsSent: s.NotificationsSent, Requests: s.Requests}
	})
	g.metrics.SetProviders(metrics.Providers{Devices: devs, Links: links, OPCUA: ua})
	g.ready = metrics.Readiness(metrics.ReadyChecks{
		ConfigLoaded:   func() bool { return true }, // a gateway only exists with a valid config
		OPCUAListening: g.listening.Load,
		Devices:        devs,
	})
}

// serveMetrics starts /metrics, /healthz and /readyz when metrics.listen is set.
func (g *Gateway) serveMetrics(ctx context.Context) error {
	addr := g.cfg.Metrics.Listen
	if addr == "" {
		return nil
	}
	a, err := metrics.Serve(ctx, addr, g.metrics.Handler(g.ready), g.log.With("component", "metrics"))
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	g.metricsAddr = a.String()
	g.log.Info("metrics listening", "url", "http://"+a.String()+"/metrics")
	return nil
}
