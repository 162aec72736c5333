package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tagbridge/tagbridge/drivers"
)

// BuildInfo labels tagbridge_build_info.
type BuildInfo struct {
	Version   string
	Commit    string
	GoVersion string // runtime.Version() of the build
}

// scanBuckets cover a fast local Modbus TCP read (~1 ms) up to a scan that
// hits the 5 s per-scan safety timeout, roughly 2.5x apart.
var scanBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics is Tagbridge's Prometheus registry with every tagbridge_* metric.
// It implements internal/poll.Metrics; all its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	scans      *prometheus.CounterVec
	scanDur    *prometheus.HistogramVec
	errs       *prometheus.CounterVec
	reconnects *prometheus.CounterVec
	demotions  *prometheus.CounterVec
	devWrites  *prometheus.CounterVec

	reloadOK, reloadFailed prometheus.Counter
	lastReloadOK           prometheus.Gauge
	lastReloadTime         prometheus.Gauge

	devs     sync.Map // device name -> *devMetrics, the hot-path cache
	uaWrites sync.Map // drivers.Quality -> *atomic.Uint64, for tagbridge_opcua_writes_total

	prov atomic.Pointer[Providers]
}

// devMetrics caches one device's label children so a hook is a map load and
// an atomic add, never a label hash lookup.
type devMetrics struct {
	label      string // the device name as a valid label value
	scans      prometheus.Counter
	dur        prometheus.Observer
	reconnects prometheus.Counter
	demotions  prometheus.Counter

	mu     sync.RWMutex
	errs   map[string]prometheus.Counter
	writes map[drivers.Quality]prometheus.Counter
}

// New returns a Metrics with its own registry (never the global default one)
// holding the Go runtime and process collectors and tagbridge_build_info.
func New(build BuildInfo) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagbridge_device_scans_total",
			Help: "Scans of a device's scan classes, failed or not.",
		}, []string{"device"}),
		scanDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tagbridge_device_scan_duration_seconds",
			Help:    "Duration of one scan of a scan class, failed or not.",
			Buckets: scanBuckets,
		}, []string{"device"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagbridge_device_errors_total",
			Help: "Failed scans (class timeout, connection, error) and Bad points of successful scans (class config, device, range, communication, point).",
		}, []string{"device", "class"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagbridge_device_reconnects_total",
			Help: "Times a device was opened again after a lost connection, a failed open or a demotion.",
		}, []string{"device"}),
		demotions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagbridge_device_demotions_total",
			Help: "Times a device was demoted after too many consecutive failures.",
		}, []string{"device"}),
		devWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagbridge_device_writes_total",
			Help: "Client writes to a device's tags by outcome status (Good or the Bad status the client received).",
		}, []string{"device", "status"}),
		lastReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tagbridge_config_last_reload_successful",
			Help: "1 if the last config reload was applied (or none was tried yet), 0 if it was rejected.",
		}),
		lastReloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tagbridge_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last applied config (start or reload).",
		}),
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tagbridge_config_reloads_total",
		Help: "Config reloads (SIGHUP or file change) by result: ok (applied) or failed (rejected, running config kept).",
	}, []string{"result"})
	m.reloadOK = reloads.WithLabelValues("ok")
	m.reloadFailed = reloads.WithLabelValues("failed")
	m.lastReloadOK.Set(1)
	m.lastReloadTime.Set(float64(time.Now().UnixNano()) / 1e9)

	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tagbridge_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(validLabel(build.Version), validLabel(build.Commit), validLabel(build.GoVersion)).Set(1)

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info, m.scans, m.scanDur, m.errs, m.reconnects, m.demotions, m.devWrites,
		reloads, m.lastReloadOK, m.lastReloadTime,
		newProviderCollector(m),
	)
	return m
}

// Registry is the registry behind /metrics, for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) device(dev string) *devMetrics {
	if d, ok := m.devs.Load(dev); ok {
		return d.(*devMetrics)
	}
	label := validLabel(dev)
	d := &devMetrics{
		label:      label,
		scans:      m.scans.WithLabelValues(label),
		dur:        m.scanDur.WithLabelValues(label),
		reconnects: m.reconnects.WithLabelValues(label),
		demotions:  m.demotions.WithLabelValues(label),
		errs:       make(map[string]prometheus.Counter),
		writes:     make(map[drivers.Quality]prometheus.Counter),
	}
	actual, _ := m.devs.LoadOrStore(dev, d)
	return actual.(*devMetrics)
}

// ScanDone counts a scan and observes its duration (poll.Metrics).
func (m *Metrics) ScanDone(dev string, d time.Duration) {
	dm := m.device(dev)
	dm.scans.Inc()
	dm.dur.Observe(d.Seconds())
}

// ReadError counts a failed scan or a Bad point by class (poll.Metrics).
func (m *Metrics) ReadError(dev, class string) {
	dm := m.device(dev)
	dm.mu.RLock()
	c, ok := dm.errs[class]
	dm.mu.RUnlock()
	if !ok {
		dm.mu.Lock()
		if c, ok = dm.errs[class]; !ok {
			c = m.errs.WithLabelValues(dm.label, validLabel(class))
			dm.errs[class] = c
		}
		dm.mu.Unlock()
	}
	c.Inc()
}

// Reconnect counts a re-open of a device (poll.Metrics).
func (m *Metrics) Reconnect(dev string) { m.device(dev).reconnects.Inc() }

// Demoted counts a demotion (poll.Metrics).
func (m *Metrics) Demoted(dev string) { m.device(dev).demotions.Inc() }

// WriteDone counts a client write by outcome, per device and in
// tagbridge_opcua_writes_total (poll.Metrics).
func (m *Metrics) WriteDone(dev string, q drivers.Quality) {
	dm := m.device(dev)
	dm.mu.RLock()
	c, ok := dm.writes[q]
	dm.mu.RUnlock()
	if !ok {
		dm.mu.Lock()
		if c, ok = dm.writes[q]; !ok {
			c = m.devWrites.WithLabelValues(dm.label, q.String())
			dm.writes[q] = c
		}
		dm.mu.Unlock()
	}
	c.Inc()

	n, ok := m.uaWrites.Load(q)
	if !ok {
		n, _ = m.uaWrites.LoadOrStore(q, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
}

// ReloadDone counts a config reload: ok when it was applied, false when it
// was rejected and the running config kept.
func (m *Metrics) ReloadDone(ok bool) {
	if !ok {
		m.reloadFailed.Inc()
		m.lastReloadOK.Set(0)
		return
	}
	m.reloadOK.Inc()
	m.lastReloadOK.Set(1)
	m.lastReloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
}

// Forget drops every per-device series of dev, for a device removed by a
// reload. Hooks called for dev afterwards create the series again from zero.
func (m *Metrics) Forget(dev string) {
	m.devs.Delete(dev)
	l := prometheus.Labels{"device": validLabel(dev)}
	m.scans.DeletePartialMatch(l)
	m.scanDur.DeletePartialMatch(l)
	m.errs.DeletePartialMatch(l)
	m.reconnects.DeletePartialMatch(l)
	m.demotions.DeletePartialMatch(l)
	m.devWrites.DeletePartialMatch(l)
}

// writeCounts snapshots the per-status write counts fed by WriteDone.
func (m *Metrics) writeCounts() map[string]uint64 {
	out := make(map[string]uint64)
	m.uaWrites.Range(func(k, v any) bool {
		out[k.(drivers.Quality).String()] += v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// validLabel makes s a valid label value: WithLabelValues panics on invalid
// UTF-8, and a device name must never crash a hook.
func validLabel(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
