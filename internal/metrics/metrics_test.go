package metrics_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/metrics"
	"github.com/tagbridge/tagbridge/internal/poll"
)

// The scheduler's hook interface, implemented exactly.
var _ poll.Metrics = (*metrics.Metrics)(nil)

// scrape GETs path from h and returns the status and body.
func scrape(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// samples returns the sample lines of a /metrics body (no comments).
func samples(t *testing.T, m *metrics.Metrics) map[string]bool {
	t.Helper()
	code, body := scrape(t, m.Handler(nil), http.MethodGet, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d: %s", code, body)
	}
	out := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
}

func wantLines(t *testing.T, got map[string]bool, want ...string) {
	t.Helper()
	for _, w := range want {
		if !got[w] {
			var near []string
			name := w[:strings.IndexAny(w, "{ ")]
			for l := range got {
				if strings.HasPrefix(l, name) {
					near = append(near, l)
				}
			}
			t.Errorf("missing %q; lines of that metric: %q", w, near)
		}
	}
}

func noLinePrefix(t *testing.T, got map[string]bool, prefix string) {
	t.Helper()
	for l := range got {
		if strings.HasPrefix(l, prefix) {
			t.Errorf("unexpected line %q", l)
		}
	}
}

func TestHooksAppearInScrape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		hooks func(m *metrics.Metrics)
		want  []string
	}{
		{
			name: "build info",
			want: []string{`tagbridge_build_info{commit="abc123",goversion="go1.26.8",version="1.2.3"} 1`},
		},
		{
			name: "scans and duration histogram",
			hooks: func(m *metrics.Metrics) {
				m.ScanDone("press3", 3*time.Millisecond)
				m.ScanDone("press3", 20*time.Millisecond)
				m.ScanDone("oven", 7*time.Second)
			},
			want: []string{
				`tagbridge_device_scans_total{device="press3"} 2`,
				`tagbridge_device_scans_total{device="oven"} 1`,
				`tagbridge_device_scan_duration_seconds_bucket{device="press3",le="0.001"} 0`,
				`tagbridge_device_scan_duration_seconds_bucket{device="press3",le="0.005"} 1`,
				`tagbridge_device_scan_duration_seconds_bucket{device="press3",le="0.025"} 2`,
				`tagbridge_device_scan_duration_seconds_bucket{device="oven",le="5"} 0`,
				`tagbridge_device_scan_duration_seconds_bucket{device="oven",le="10"} 1`,
				`tagbridge_device_scan_duration_seconds_count{device="press3"} 2`,
				`tagbridge_device_scan_duration_seconds_sum{device="press3"} 0.023`,
			},
		},
		{
			name: "errors by class, reconnects, demotions",
			hooks: func(m *metrics.Metrics) {
				m.ReadError("press3", "timeout")
				m.ReadError("press3", "timeout")
				m.ReadError("press3", "config")
				m.ReadError("oven", "connection")
				m.Reconnect("press3")
				m.Demoted("press3")
				m.Demoted("press3")
			},
			want: []string{
				`tagbridge_device_errors_total{class="timeout",device="press3"} 2`,
				`tagbridge_device_errors_total{class="config",device="press3"} 1`,
				`tagbridge_device_errors_total{class="connection",device="oven"} 1`,
				`tagbridge_device_reconnects_total{device="press3"} 1`,
				`tagbridge_device_demotions_total{device="press3"} 2`,
			},
		},
		{
			name: "writes by status",
			hooks: func(m *metrics.Metrics) {
				m.WriteDone("press3", drivers.Good)
				m.WriteDone("press3", drivers.Good)
				m.WriteDone("oven", drivers.Good)
				m.WriteDone("oven", drivers.BadOutOfService)
			},
			want: []string{
				`tagbridge_device_writes_total{device="press3",status="Good"} 2`,
				`tagbridge_device_writes_total{device="oven",status="BadOutOfService"} 1`,
				`tagbridge_opcua_writes_total{status="Good"} 3`,
				`tagbridge_opcua_writes_total{status="BadOutOfService"} 1`,
			},
		},
		{
			name: "reloads",
			hooks: func(m *metrics.Metrics) {
				m.ReloadDone(true)
				m.ReloadDone(false)
				m.ReloadDone(false)
			},
			want: []string{
				`tagbridge_config_reloads_total{result="ok"} 1`,
				`tagbridge_config_reloads_total{result="failed"} 2`,
				`tagbridge_config_last_reload_successful 0`,
			},
		},
		{
			name: "no reloads yet shows zeros",
			want: []string{
				`tagbridge_config_reloads_total{result="ok"} 0`,
				`tagbridge_config_reloads_total{result="failed"} 0`,
				`tagbridge_config_last_reload_successful 1`,
			},
		},
		{
			name: "invalid UTF-8 names are sanitised, not a panic",
			hooks: func(m *metrics.Metrics) {
				m.ScanDone("bad\xffname", time.Millisecond)
				m.ReadError("bad\xffname", "x\xfe")
			},
			want: []string{
				"tagbridge_device_scans_total{device=\"bad\uFFFDname\"} 1",
				"tagbridge_device_errors_total{class=\"x\uFFFD\",device=\"bad\uFFFDname\"} 1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.BuildInfo{Version: "1.2.3", Commit: "abc123", GoVersion: "go1.26.8"})
			if tt.hooks != nil {
				tt.hooks(m)
			}
			wantLines(t, samples(t, m), tt.want...)
		})
	}
}

func TestRuntimeCollectors(t *testing.T) {
	t.Parallel()
	got := samples(t, metrics.New(metrics.BuildInfo{}))
	var goRt, proc bool
	for l := range got {
		goRt = goRt || strings.HasPrefix(l, "go_goroutines ")
		proc = proc || strings.HasPrefix(l, "process_start_time_seconds ")
	}
	if !goRt || !proc {
		t.Errorf("go_goroutines present %v, process_start_time_seconds present %v", goRt, proc)
	}
}

func TestForgetDropsDeviceSeries(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.BuildInfo{})
	m.ScanDone("old", time.Millisecond)
	m.ReadError("old", "timeout")
	m.WriteDone("old", drivers.Good)
	m.ScanDone("kept", time.Millisecond)
	m.Forget("old")
	got := samples(t, m)
	noLinePrefix(t, got, `tagbridge_device_scans_total{device="old"}`)
	noLinePrefix(t, got, `tagbridge_device_errors_total{class="timeout",device="old"}`)
	wantLines(t, got, `tagbridge_device_scans_total{device="kept"} 1`,
		`tagbridge_opcua_writes_total{status="Good"} 1`) // the server-wide total keeps counting

	m.ScanDone("old", time.Millisecond) // a late hook starts again from zero
	wantLines(t, samples(t, m), `tagbridge_device_scans_total{device="old"} 1`)
}

func TestConcurrentHooksCountEverything(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.BuildInfo{})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dev := []string{"a", "b"}[w%2]
			for range each {
				m.ScanDone(dev, time.Millisecond)
				m.ReadError(dev, "timeout")
				m.WriteDone(dev, drivers.Good)
			}
		}()
	}
	// Scrapes race with the hooks on purpose (run with -race).
	for range 5 {
		samples(t, m)
	}
	wg.Wait()
	wantLines(t, samples(t, m),
		`tagbridge_device_scans_total{device="a"} 2000`,
		`tagbridge_device_scans_total{device="b"} 2000`,
		`tagbridge_device_errors_total{class="timeout",device="a"} 2000`,
		`tagbridge_opcua_writes_total{status="Good"} 4000`,
	)
}

func TestUnknownPathAndMethod(t *testing.T) {
	t.Parallel()
	h := metrics.New(metrics.BuildInfo{}).Handler(nil)
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodGet, "/healthz", http.StatusOK, "ok\n"},
		{http.MethodHead, "/healthz", http.StatusOK, ""},
		{http.MethodGet, "/", http.StatusOK, "Tagbridge\n"},
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		code, body := scrape(t, h, tt.method, tt.path)
		if code != tt.code || !strings.HasPrefix(body, tt.body) {
			t.Errorf("%s %s: %d %q, want %d %q...", tt.method, tt.path, code, body, tt.code, tt.body)
		}
	}
}

func BenchmarkScanDone(b *testing.B) {
	m := metrics.New(metrics.BuildInfo{})
	b.ReportAllocs()
	for b.Loop() {
		m.ScanDone("press3", 3*time.Millisecond)
	}
}

func BenchmarkScanDoneParallel(b *testing.B) {
	m := metrics.New(metrics.BuildInfo{})
	devs := []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.ScanDone(devs[i%len(devs)], 3*time.Millisecond)
			i++
		}
	})
}

func BenchmarkReadError(b *testing.B) {
	m := metrics.New(metrics.BuildInfo{})
	b.ReportAllocs()
	for b.Loop() {
		m.ReadError("press3", "timeout")
	}
}

func FuzzHookNames(f *testing.F) {
	f.Add("press3", "timeout")
	f.Add("", "")
	f.Add("bad\xff", "\xfe")
	f.Add("Line1/Press3 \"quoted\"\n", "exception_2")
	f.Fuzz(func(t *testing.T, dev, class string) {
		m := metrics.New(metrics.BuildInfo{Version: dev})
		m.ScanDone(dev, time.Millisecond)
		m.ReadError(dev, class)
		m.WriteDone(dev, drivers.Quality(len(class)))
		m.SetProviders(metrics.Providers{
			Devices: metrics.DeviceStatusFunc(func() []metrics.DeviceStatus { return []metrics.DeviceStatus{{Name: dev}} }),
			Links:   metrics.LinkStatsFunc(func() []metrics.LinkStats { return []metrics.LinkStats{{Link: class}} }),
		})
		if code, body := scrape(t, m.Handler(nil), http.MethodGet, "/metrics"); code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		m.Forget(dev)
	})
}
