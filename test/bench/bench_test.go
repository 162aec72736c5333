package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want float64
	}{{0, 1}, {10, 1}, {50, 5}, {90, 9}, {99, 10}, {100, 10}}
	for _, tt := range tests {
		if got := percentile(xs, tt.p); got != tt.want {
			t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input in place")
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing should be NaN (printed n/a)")
	}
	if got := fmtNum(math.NaN(), "%.1f"); got != "n/a" {
		t.Errorf("fmtNum(NaN) = %q, want n/a", got)
	}
}

func TestIntervalsAndGrowth(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	got := intervalsMs([]time.Time{t0, t0.Add(100 * time.Millisecond), t0.Add(250 * time.Millisecond)})
	if len(got) != 2 || got[0] != 100 || got[1] != 150 {
		t.Errorf("intervalsMs = %v, want [100 150]", got)
	}
	if g := growthPct(100, 105); g != 5 {
		t.Errorf("growthPct(100,105) = %v, want 5", g)
	}
}

func TestMinRequests(t *testing.T) {
	t.Parallel()
	tests := []struct{ tags, maxRegs, want int }{
		{0, 120, 0}, {1, 120, 1}, {60, 120, 1}, {61, 120, 2}, {120, 120, 2}, {121, 120, 3},
		{1000, 120, 17}, {2500, 120, 42}, {10, 125, 1}, {63, 125, 2}, {3, 3, 3},
	}
	for _, tt := range tests {
		if got := minRequests(tt.tags, tt.maxRegs); got != tt.want {
			t.Errorf("minRequests(%d, %d) = %d, want %d", tt.tags, tt.maxRegs, got, tt.want)
		}
	}
}

func TestSpread(t *testing.T) {
	t.Parallel()
	got := spread(10_003, 10)
	sum := 0
	for _, n := range got {
		sum += n
		if n != 1000 && n != 1001 {
			t.Errorf("spread gave a device %d tags", n)
		}
	}
	if sum != 10_003 {
		t.Errorf("spread lost tags: %d", sum)
	}
}

func TestRenderConfig(t *testing.T) {
	t.Parallel()
	g := genConfig{AppURI: appURI, MetricsListen: "127.0.0.1:9999", User: "bench", PasswordHash: "$2a$04$x",
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Devices: []genDevice{{Name: "dev00", Address: "127.0.0.1:1502", Tags: 3, Scan: 100 * time.Millisecond, WriteTag: true}}}
	y := g.render()
	for _, want := range []string{
		"application_uri: urn:tagbridge:bench",
		"metrics: { listen: 127.0.0.1:9999 }",
		`users: [ { name: bench, password_hash: "$2a$04$x", role: write } ]`,
		"  - name: dev00\n    driver: modbus\n    scan: 100ms\n",
		"backoff_min: 50ms",
		`address: "127.0.0.1:1502", unit_id: 1, timeout: 1s, byte_order: ABCD, max_registers: 120, max_gap: 16, reconnect_min: 50ms, reconnect_max: 200ms }`,
		`- { name: T00000, address: "hr:0", type: float32 }`,
		`- { name: T00002, address: "hr:4", type: float32 }`,
		`- { name: W, address: "hr:60000", type: float32, access: readwrite }`,
	} {
		if !strings.Contains(y, want) {
			t.Errorf("config lacks %q:\n%s", want, y)
		}
	}
	if strings.Contains(y, "T00003") {
		t.Error("config has a 4th tag")
	}
}

func TestFillRegs(t *testing.T) {
	t.Parallel()
	out := make([]uint16, 4)
	fillRegs(out, 0, 3, nil) // float32(3) = 0x40400000
	if out[0] != 0x4040 || out[1] != 0 || out[2] != 0x4040 {
		t.Errorf("fillRegs = %04X", out)
	}
	fillRegs(out[:2], writeBase, 3, map[uint16]uint16{writeBase: 7, writeBase + 1: 9})
	if out[0] != 7 || out[1] != 9 {
		t.Errorf("write area = %v, want [7 9]", out[:2])
	}
}

func TestParseProc(t *testing.T) {
	t.Parallel()
	status := "Name:\ttagbridge\nVmPeak:\t  900 kB\nVmRSS:\t   23456 kB\nThreads:\t12\n"
	if v, err := parseStatusKB(status, "VmRSS"); err != nil || v != 23456 {
		t.Errorf("VmRSS = %d, %v", v, err)
	}
	if v, err := parseStatusKB(status, "Threads"); err != nil || v != 12 {
		t.Errorf("Threads = %d, %v", v, err)
	}
	if _, err := parseStatusKB(status, "VmSwap"); err == nil {
		t.Error("missing key: want an error")
	}
	// A command name with spaces and parentheses must not shift the fields.
	stat := "4242 (tag (bridge) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0"
	if v, err := parseStatTicks(stat); err != nil || v != 325 {
		t.Errorf("ticks = %d, %v; want 325", v, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 x 1"} {
		if _, err := parseStatTicks(bad); err == nil {
			t.Errorf("parseStatTicks(%q): want an error", bad)
		}
	}
	a := procSample{at: time.Unix(0, 0), cpuSec: 1}
	b := procSample{at: time.Unix(10, 0), cpuSec: 3}
	if c := cores(a, b); c != 0.2 {
		t.Errorf("cores = %v, want 0.2", c)
	}
}

func TestParsePrometheus(t *testing.T) {
	t.Parallel()
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
tagbridge_device_scans_total{device="dev00"} 10
tagbridge_device_scans_total{device="dev01",x="a\"b,c"} 5
tagbridge_device_errors_total{device="dev00",class="timeout"} 1e+00
garbage line here
broken{device="x" 3
`
	ss := parsePrometheus(strings.NewReader(text))
	if v, ok := metricSum(ss, "go_goroutines", nil); !ok || v != 42 {
		t.Errorf("go_goroutines = %v, %v", v, ok)
	}
	if v, ok := metricSum(ss, "tagbridge_device_scans_total", nil); !ok || v != 15 {
		t.Errorf("scans total = %v, %v; want 15", v, ok)
	}
	if v, ok := metricSum(ss, "tagbridge_device_scans_total", map[string]string{"x": `a"b,c`}); !ok || v != 5 {
		t.Errorf("escaped label: %v, %v", v, ok)
	}
	if v, _ := metricSum(ss, "tagbridge_device_errors_total", map[string]string{"class": "timeout"}); v != 1 {
		t.Errorf("errors = %v", v)
	}
	if _, ok := metricSum(ss, "missing", nil); ok {
		t.Error("missing metric reported as found")
	}
}

func TestReplaceBlock(t *testing.T) {
	t.Parallel()
	doc := "# Benchmarks\n\nintro\n\n" + beginMarker + "\nold\n" + endMarker + "\n\nafter\n"
	got, err := replaceBlock(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, beginMarker+"\nnew\n"+endMarker) || strings.Contains(got, "old") ||
		!strings.HasSuffix(got, "after\n") || !strings.HasPrefix(got, "# Benchmarks") {
		t.Errorf("replaceBlock:\n%s", got)
	}
	got, err = replaceBlock("# B\n", "x\n")
	if err != nil || !strings.HasSuffix(got, beginMarker+"\nx\n"+endMarker+"\n") {
		t.Errorf("no markers: %q, %v", got, err)
	}
	// Markers quoted inside text are not markers.
	quoted := "use `" + beginMarker + "` and `" + endMarker + "`\n" + beginMarker + "\nold\n" + endMarker + "\n"
	got, err = replaceBlock(quoted, "new\n")
	if err != nil || !strings.HasPrefix(got, "use `"+beginMarker+"` and `"+endMarker+"`\n"+beginMarker+"\nnew\n") {
		t.Errorf("quoted markers: %q, %v", got, err)
	}
	if _, err := replaceBlock(endMarker+"\n"+beginMarker+"\n", "x"); err == nil {
		t.Error("markers out of order: want an error")
	}
}

func TestTableAndMedian(t *testing.T) {
	t.Parallel()
	a, b, c := newResult("s", "x"), newResult("s", "x"), newResult("s", "x")
	a.RSSMB, b.RSSMB, c.RSSMB = 30, 10, 20
	a.Key = "k|v"
	m := medianOf([]*result{a, b, c})
	if m.RSSMB != 20 {
		t.Errorf("median RSS = %v, want 20", m.RSSMB)
	}
	if !math.IsNaN(m.CPU) {
		t.Errorf("unmeasured CPU = %v, want NaN", m.CPU)
	}
	md := markdownTable([]*result{a})
	if !strings.Contains(md, `k\|v`) || !strings.Contains(md, "| n/a |") {
		t.Errorf("table:\n%s", md)
	}
	if got := cpuModel("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n"); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	all := scenarios()
	def, err := pick(all, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range def {
		if s.optIn {
			t.Errorf("default set has opt-in %s", s.name)
		}
	}
	if got, err := pick(all, "plan, blackhole"); err != nil || len(got) != 2 || got[0].name != "plan" {
		t.Errorf("pick = %v, %v", got, err)
	}
	if _, err := pick(all, "nope"); err == nil || !strings.Contains(err.Error(), "known:") {
		t.Errorf("unknown scenario: %v", err)
	}
}
