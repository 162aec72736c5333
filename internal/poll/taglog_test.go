package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// --- a log handler that keeps every record, with the logger's attributes ---

type logRec struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

type recLog struct {
	mu   sync.Mutex
	recs []logRec
}

type recHandler struct {
	l     *recLog
	attrs []slog.Attr
}

func newRecLogger() (*slog.Logger, *recLog) {
	l := &recLog{}
	return slog.New(&recHandler{l: l}), l
}

func (h *recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recHandler) WithGroup(string) slog.Handler            { return h }
func (h *recHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recHandler{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *recHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRec{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.recs = append(h.l.recs, rec)
	h.l.mu.Unlock()
	return nil
}

// with returns the records whose message starts with msg.
func (l *recLog) with(msg string) []logRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRec
	for _, r := range l.recs {
		if strings.HasPrefix(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

// --- a driver whose points can be made Bad one address at a time ---

type pointFake struct {
	mu      sync.Mutex
	bad     map[string]drivers.Sample // address -> the Bad sample it reads as
	failErr error                     // the whole Read fails
	reads   int
}

func newPointFake(t *testing.T) (*pointFake, string) {
	name := fmt.Sprintf("polltest-points-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), rand.Int64())
	f := &pointFake{bad: map[string]drivers.Sample{}}
	drivers.Register(name, f)
	return f, name
}

func (f *pointFake) Open(context.Context, string, map[string]any) (drivers.Device, error) {
	return (*pointFakeDev)(f), nil
}

func (f *pointFake) set(fn func(f *pointFake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *pointFake) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// scans waits for n more Reads (so the scheduler has published n more scans
// once the last one returned: the wait is for n+1).
func (f *pointFake) scans(t *testing.T, n int) {
	t.Helper()
	target := f.readCount() + n + 1
	waitFor(t, fmt.Sprintf("%d more scans", n), func() bool { return f.readCount() >= target })
}

type pointFakeDev pointFake

func (d *pointFakeDev) Read(_ context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	f := (*pointFake)(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.failErr != nil {
		return f.failErr
	}
	now := time.Now()
	for i, a := range addrs {
		if s, ok := f.bad[a.Addr]; ok {
			s.Time = now
			out[i] = s
			continue
		}
		out[i] = drivers.Sample{Value: float64(1), Quality: drivers.Good, Time: now}
	}
	return nil
}

func (d *pointFakeDev) Close() error { return nil }

// exc2 is what the Modbus driver reports for a register the device does not
// have.
func exc2(addr uint16) drivers.Sample {
	return drivers.Sample{Quality: drivers.BadConfigurationError,
		Err: fmt.Errorf("modbus plc: hr:%d x1 (fc3): exception 2 (illegal data address)", addr)}
}

func TestTagProblemLoggedOncePerChange(t *testing.T) {
	t.Parallel()
	f, drv := newPointFake(t)
	f.bad["hr:100"] = exc2(100)
	store := mapping.NewStore()
	tbl := compile(t, store, device("plc", drv, 2*time.Millisecond,
		tagSpec{name: "ok", addr: "hr:0"}, tagSpec{name: "missing", addr: "hr:100"}))
	log, rec := newRecLogger()
	start(t, New(tbl, Options{Logger: log}))

	// Waiting -> Bad: one Warn line naming device, tag, quality and the
	// driver's reason (PDU address, function code, exception).
	waitFor(t, "the tag bad line", func() bool { return len(rec.with("tag bad")) > 0 })
	f.scans(t, 20)
	lines := rec.with("tag bad")
	if len(lines) != 1 {
		t.Fatalf("after 20 bad scans: %d tag bad lines %+v, want exactly 1", len(lines), lines)
	}
	l := lines[0]
	if l.level != slog.LevelWarn || l.attrs["device"] != "plc" || l.attrs["tag"] != "plc/missing" ||
		l.attrs["quality"] != "BadConfigurationError" || !strings.Contains(l.attrs["err"], "hr:100 x1 (fc3): exception 2") {
		t.Errorf("tag bad line %+v: want Warn with device plc, tag plc/missing, BadConfigurationError, the PDU address and fc", l)
	}

	// Bad -> Good: one Info line.
	f.set(func(f *pointFake) { delete(f.bad, "hr:100") })
	waitFor(t, "the recovered line", func() bool { return len(rec.with("tag recovered")) > 0 })
	f.scans(t, 20)
	if got := rec.with("tag recovered"); len(got) != 1 || got[0].level != slog.LevelInfo || got[0].attrs["tag"] != "plc/missing" || got[0].attrs["was"] != "BadConfigurationError" {
		t.Errorf("recovered lines %+v, want one Info line for plc/missing", got)
	}

	// Bad again, then the whole device fails and comes back with the tag
	// still Bad: one more tag line for the new problem and none for the
	// outage (every tag went BadCommunicationError; the device line says so).
	f.set(func(f *pointFake) { f.bad["hr:100"] = exc2(100) })
	waitFor(t, "the second tag bad line", func() bool { return len(rec.with("tag bad")) == 2 })
	f.set(func(f *pointFake) { f.failErr = errors.New("fake: no reply") })
	waitFor(t, "device down", func() bool { return len(rec.with("device down")) > 0 })
	f.scans(t, 20)
	if q := value(tbl, "plc/ok").Quality; q != drivers.BadCommunicationError {
		t.Fatalf("plc/ok during the outage: %v, want BadCommunicationError", q)
	}
	f.set(func(f *pointFake) { f.failErr = nil })
	waitFor(t, "device recovered", func() bool { return len(rec.with("device recovered")) > 0 })
	f.scans(t, 20)

	if got := rec.with("tag bad"); len(got) != 2 {
		t.Errorf("tag bad lines %+v, want 2 (one per change to Bad, none for the outage)", got)
	}
	if got := rec.with("tag recovered"); len(got) != 1 {
		t.Errorf("tag recovered lines %+v, want 1", got)
	}
	for _, r := range rec.with("tag") {
		if r.attrs["tag"] == "plc/ok" {
			t.Errorf("line for the healthy tag: %+v", r)
		}
	}
}

func TestTagProblemsRateLimitedPerDevice(t *testing.T) {
	t.Parallel()
	f, drv := newPointFake(t)
	var tags []tagSpec
	for i := range 25 {
		a := fmt.Sprintf("hr:%d", 200+i)
		f.bad[a] = exc2(uint16(200 + i))
		tags = append(tags, tagSpec{name: fmt.Sprintf("t%02d", i), addr: a})
	}
	store := mapping.NewStore()
	tbl := compile(t, store,
		device("plc", drv, 2*time.Millisecond, tags...),
		device("other", drv, 2*time.Millisecond, tagSpec{name: "x", addr: "hr:200"}))
	log, rec := newRecLogger()
	start(t, New(tbl, Options{Logger: log}))

	waitFor(t, "20 tag lines for plc", func() bool { return count(rec.with("tag bad"), "plc") >= tagLogLimit })
	f.scans(t, 20)
	// The budget is per device: the other device's problem is logged even
	// though plc used all of its lines. (The summary comes when the minute
	// is over: TestTagLogWindow.)
	waitFor(t, "the other device's tag line", func() bool { return count(rec.with("tag bad"), "other") == 1 })
	if n := count(rec.with("tag bad"), "plc"); n != tagLogLimit {
		t.Errorf("plc: %d tag bad lines for 25 bad tags, want %d (the limit)", n, tagLogLimit)
	}
}

func count(recs []logRec, device string) int {
	n := 0
	for _, r := range recs {
		if r.attrs["device"] == device {
			n++
		}
	}
	return n
}

func TestTagLogWindow(t *testing.T) {
	t.Parallel()
	log, rec := newRecLogger()
	l := tagLog{limit: 2, window: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := exc2(100)
	good := drivers.Sample{Value: 1.0, Quality: drivers.Good}
	for scan := range 3 { // repeated bad scans log nothing more
		for i := range 5 {
			l.note(log, fmt.Sprintf("d/t%d", i), &bad, t0.Add(time.Duration(scan)*time.Second))
		}
		l.flush(log, t0.Add(time.Duration(scan)*time.Second))
	}
	if n := len(rec.with("tag bad")); n != 2 {
		t.Fatalf("%d tag bad lines, want 2 (the limit)", n)
	}
	l.flush(log, t0.Add(59*time.Second))
	if n := len(rec.with("")); n != 2 {
		t.Fatalf("%d lines before the window ended, want 2", n)
	}
	l.flush(log, t0.Add(61*time.Second))
	sum := rec.with("3 more tag problems suppressed")
	if len(sum) != 1 || sum[0].level != slog.LevelWarn || sum[0].attrs["suppressed"] != "3" || sum[0].attrs["still_bad"] != "5" {
		t.Fatalf("summary %+v (all: %+v), want one Warn line for 3 suppressed, 5 still bad", sum, rec.with(""))
	}
	l.flush(log, t0.Add(200*time.Second))
	if n := len(rec.with("")); n != 3 {
		t.Errorf("%d lines after a quiet window, want no second summary", n)
	}

	// A new window: recovery and a change of problem are logged, a tag that
	// stays the same is not.
	t1 := t0.Add(300 * time.Second)
	l.note(log, "d/t0", &good, t1)
	dev := drivers.Sample{Quality: drivers.BadDeviceFailure, Err: errors.New("exception 4")}
	l.note(log, "d/t1", &dev, t1)
	l.note(log, "d/t2", &bad, t1)
	if got := rec.with("tag recovered"); len(got) != 1 || got[0].attrs["tag"] != "d/t0" {
		t.Errorf("recovered %+v, want d/t0", got)
	}
	if got := rec.with("tag bad"); len(got) != 3 || got[2].attrs["was"] != "BadConfigurationError" || got[2].attrs["quality"] != "BadDeviceFailure" {
		t.Errorf("tag bad lines %+v, want a third for d/t1's new problem", got)
	}
	// Everything good again: the fast path is back (no map).
	for i := range 5 {
		l.note(log, fmt.Sprintf("d/t%d", i), &good, t1)
	}
	if l.bad != nil {
		t.Errorf("bad set %v after every tag recovered, want nil", l.bad)
	}
}

func TestTagLogHotPathDoesNotAllocate(t *testing.T) {
	log, _ := newRecLogger()
	now := time.Now()
	good := drivers.Sample{Value: 1.0, Quality: drivers.Good, Time: now}
	bad := exc2(7)
	var l tagLog
	if n := testing.AllocsPerRun(100, func() {
		l.note(log, "d/a", &good, now)
		l.flush(log, now)
	}); n != 0 {
		t.Errorf("good scan: %v allocations, want 0", n)
	}
	l.note(log, "d/b", &bad, now) // one tag Bad (logged once)
	if n := testing.AllocsPerRun(100, func() {
		l.note(log, "d/a", &good, now)
		l.note(log, "d/b", &bad, now)
		l.flush(log, now)
	}); n != 0 {
		t.Errorf("scan with a tag that stays Bad: %v allocations, want 0", n)
	}
}
