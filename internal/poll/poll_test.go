package poll

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReadsFlowGoodInScanClasses(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	tbl := compile(t, store, device("d1", f.name, 5*time.Millisecond,
		tagSpec{name: "fast", addr: "a"},
		tagSpec{name: "slow", addr: "s", scan: 300 * time.Millisecond},
		tagSpec{name: "broken", addr: "bad1"},
	))
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)

	waitFor(t, "fast tag Good", func() bool { return value(tbl, "d1/fast").Quality == drivers.Good })
	waitFor(t, "slow tag Good", func() bool { return value(tbl, "d1/slow").Quality == drivers.Good })
	waitFor(t, "fast class polled 20 times", func() bool { return f.readsOf("a") >= 20 })
	if fast, slow := f.readsOf("a"), f.readsOf("s"); slow >= fast {
		t.Errorf("slow class polled %d times, fast %d: want fast more often", slow, fast)
	}
	v := value(tbl, "d1/fast")
	if _, ok := v.V.(float64); !ok || v.Source.IsZero() || v.Server.IsZero() {
		t.Errorf("fast tag value = %+v, want a float64 with timestamps", v)
	}
	if q := value(tbl, "d1/broken").Quality; q != drivers.BadDeviceFailure {
		t.Errorf("bad point quality = %v, want BadDeviceFailure", q)
	}
	waitFor(t, "status ReadCount > 0", func() bool {
		c, _ := value(tbl, "_Devices/d1/ReadCount").V.(uint64)
		return c > 0
	})
	if v := value(tbl, "_Devices/d1/Connected"); v.V != true || v.Quality != drivers.Good {
		t.Errorf("Connected = %+v, want true Good", v)
	}
	if v := value(tbl, "_Devices/d1/State").V; v != StateUp {
		t.Errorf("State = %v, want %q", v, StateUp)
	}
	st := statusOf(s, "d1")
	if !st.Connected || st.State != StateUp || st.Scans == 0 || st.BadPoints == 0 {
		t.Errorf("Status = %+v, want connected, up, scans and bad points counted", st)
	}
	if f.get(func(f *fake) int { return boolInt(f.overlap) }) != 0 {
		t.Error("device methods ran concurrently")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestPrepareOncePerScanClassAndAfterReconnect(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	d := device("d1", f.name, 5*time.Millisecond,
		tagSpec{name: "a", addr: "a"}, tagSpec{name: "b", addr: "b"},
		tagSpec{name: "c", addr: "c", scan: 7 * time.Millisecond})
	d.BackoffMin, d.BackoffMax = time.Millisecond, 2*time.Millisecond
	tbl := compile(t, store, d)
	m := newRecMetrics()
	s := New(tbl, Options{Logger: quietLogger(), Metrics: m})
	start(t, s)

	waitFor(t, "10 scans", func() bool { return f.readsOf("a") >= 10 && f.readsOf("c") >= 10 })
	if n := f.get(func(f *fake) int { return f.prepares }); n != 2 {
		t.Errorf("Prepare called %d times for 2 scan classes, want 2", n)
	}
	// Every read of the class goes through its batch: "a" and "b" together.
	for _, op := range f.opsCopy() {
		if op == "r:a" || op == "r:b" {
			t.Fatalf("op %q: class read address by address, want one batch", op)
		}
	}

	f.set(func(f *fake) { f.failConn = true })
	waitFor(t, "device down", func() bool { return statusOf(s, "d1").State == StateDown })
	f.set(func(f *fake) { f.failConn = false })
	waitFor(t, "device up again", func() bool { return statusOf(s, "d1").State == StateUp })
	opens := f.get(func(f *fake) int { return f.opens })
	if opens < 2 {
		t.Fatalf("opens = %d after a lost connection, want >= 2", opens)
	}
	if n := f.get(func(f *fake) int { return f.prepares }); n != 2*opens {
		t.Errorf("Prepare called %d times over %d opens of 2 scan classes, want %d", n, opens, 2*opens)
	}
	if m.get(func(m *recMetrics) int { return m.reconnects }) == 0 {
		t.Error("no Reconnect metric")
	}
}

func TestBadConnKeepsValueAndRecovers(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	d := device("d1", f.name, 5*time.Millisecond, tagSpec{name: "a", addr: "a"})
	d.BackoffMin, d.BackoffMax = time.Millisecond, 5*time.Millisecond
	tbl := compile(t, store, d)
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)

	f.set(func(f *fake) { f.mem["a"] = 42.5 })
	waitFor(t, "Good 42.5", func() bool { v := value(tbl, "d1/a"); return v.Quality == drivers.Good && v.V == 42.5 })
	good := value(tbl, "d1/a")

	f.set(func(f *fake) { f.failConn = true })
	waitFor(t, "BadCommunicationError", func() bool { return value(tbl, "d1/a").Quality == drivers.BadCommunicationError })
	bad := value(tbl, "d1/a")
	if bad.V != 42.5 || !bad.Source.Equal(good.Source) {
		t.Errorf("while down: %+v, want value 42.5 and source time %v kept", bad, good.Source)
	}
	if !strings.Contains(bad.Err, "bad connection") {
		t.Errorf("diagnostics %q, want the driver's reason", bad.Err)
	}
	st := statusOf(s, "d1")
	if st.Connected || st.State != StateDown || !strings.Contains(st.LastError, "bad connection") {
		t.Errorf("Status while down = %+v", st)
	}
	if v := value(tbl, "_Devices/d1/Connected").V; v != false {
		t.Errorf("Connected status tag = %v, want false", v)
	}

	f.set(func(f *fake) { f.failConn = false; f.mem["a"] = 43.0 })
	waitFor(t, "Good again", func() bool { v := value(tbl, "d1/a"); return v.Quality == drivers.Good && v.V == 43.0 })
	if statusOf(s, "d1").Reconnects == 0 {
		t.Error("Reconnects not counted")
	}
	if c := f.get(func(f *fake) int { return f.opens - f.closes }); c != 1 {
		t.Errorf("%d devices open, want exactly 1 (old ones closed)", c)
	}
}

func TestDeadDeviceDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	dead, healthy := newFake(t), newFake(t)
	dead.set(func(f *fake) { f.hang = true })
	store := mapping.NewStore()
	tbl := compile(t, store,
		device("dead", dead.name, 5*time.Millisecond, tagSpec{name: "x", addr: "x"}),
		device("ok", healthy.name, 5*time.Millisecond, tagSpec{name: "y", addr: "y"}))
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)

	<-dead.inRead // the dead device is stuck in a Read now
	before := healthy.readsOf("y")
	waitFor(t, "healthy device keeps polling", func() bool { return healthy.readsOf("y") >= before+20 })
	if q := value(tbl, "ok/y").Quality; q != drivers.Good {
		t.Errorf("healthy tag quality = %v", q)
	}
	// The hung read hits the per-scan timeout: the dead device's tags say so.
	waitFor(t, "dead tag BadCommunicationError", func() bool {
		return value(tbl, "dead/x").Quality == drivers.BadCommunicationError
	})
	if st := statusOf(s, "dead"); st.State != StateDown || st.Connected {
		t.Errorf("dead device status = %+v", st)
	}
}

func TestDriverPanicIsALostConnection(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	d := device("d1", f.name, time.Millisecond, tagSpec{name: "a", addr: "a"})
	d.BackoffMin, d.BackoffMax = time.Millisecond, time.Millisecond
	tbl := compile(t, store, d)
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)
	waitFor(t, "Good", func() bool { return value(tbl, "d1/a").Quality == drivers.Good })
	f.set(func(f *fake) { f.panics = true })
	waitFor(t, "BadCommunicationError", func() bool { return value(tbl, "d1/a").Quality == drivers.BadCommunicationError })
	if st := statusOf(s, "d1"); !strings.Contains(st.LastError, "driver panic") {
		t.Errorf("LastError = %q", st.LastError)
	}
	f.set(func(f *fake) { f.panics = false })
	waitFor(t, "Good again", func() bool { return value(tbl, "d1/a").Quality == drivers.Good })
}

func TestDemotionAndRecovery(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	d := device("d1", f.name, 5*time.Millisecond, tagSpec{name: "a", addr: "a", rw: true})
	d.DemoteAfter, d.DemoteFor = 3, 20*time.Millisecond
	tbl := compile(t, store, d)
	m := newRecMetrics()
	s := New(tbl, Options{Logger: quietLogger(), Metrics: m})
	start(t, s)

	waitFor(t, "Good", func() bool { return value(tbl, "d1/a").Quality == drivers.Good })
	timeout := &drivers.QualityError{Quality: drivers.BadTimeout, Err: errors.New("no response")}
	f.set(func(f *fake) { f.failErr = timeout })
	waitFor(t, "demoted", func() bool { return statusOf(s, "d1").Demoted })
	if q := value(tbl, "d1/a").Quality; q != drivers.BadOutOfService {
		t.Errorf("demoted tag quality = %v, want BadOutOfService", q)
	}
	if v := value(tbl, "_Devices/d1/Demoted").V; v != true {
		t.Errorf("Demoted status tag = %v", v)
	}
	if m.get(func(m *recMetrics) int { return m.demoted }) == 0 || m.get(func(m *recMetrics) int { return m.errs["timeout"] }) == 0 {
		t.Error("Demoted/timeout metrics missing")
	}

	f.set(func(f *fake) { f.failErr = nil })
	waitFor(t, "recovered", func() bool { return statusOf(s, "d1").State == StateUp })
	waitFor(t, "Good again", func() bool { return value(tbl, "d1/a").Quality == drivers.Good })
	if st := statusOf(s, "d1"); st.Demoted || st.Demotions == 0 {
		t.Errorf("after recovery: %+v", st)
	}
	if v := value(tbl, "_Devices/d1/Demoted").V; v != false {
		t.Errorf("Demoted status tag after recovery = %v", v)
	}
}

func TestDemotedDeviceIsNotPolledAndRejectsWrites(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	d := device("d1", f.name, time.Millisecond, tagSpec{name: "a", addr: "a", rw: true})
	d.DemoteAfter, d.DemoteFor = 2, time.Hour
	tbl := compile(t, store, d)
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)

	f.set(func(f *fake) { f.failErr = errors.New("garbled reply") })
	waitFor(t, "demoted", func() bool { return statusOf(s, "d1").State == StateDemoted })
	reads := f.get(func(f *fake) int { return len(f.ops) })
	err := s.Write(context.Background(), tbl.Tag("d1/a"), 1.0)
	if q := quality(err); q != drivers.BadOutOfService || !strings.Contains(err.Error(), "demoted") {
		t.Errorf("write to demoted device: %v (quality %v), want BadOutOfService saying demoted", err, q)
	}
	// 50 scan periods later: still no device call.
	time.Sleep(50 * time.Millisecond)
	if now := f.get(func(f *fake) int { return len(f.ops) }); now != reads {
		t.Errorf("%d device calls while demoted, want none", now-reads)
	}
	if st := statusOf(s, "d1"); st.Errors != 2 || st.Demotions != 1 {
		t.Errorf("status = %+v, want 2 errors and 1 demotion", st)
	}
}

func TestAdvanceSkipsMissedTicks(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	cases := []struct {
		now          time.Duration // after t0
		next         time.Duration // want, after t0
		overrunsWant uint64
	}{
		{now: 2 * time.Millisecond, next: 10 * time.Millisecond},
		{now: 10 * time.Millisecond, next: 20 * time.Millisecond, overrunsWant: 1},
		{now: 35 * time.Millisecond, next: 40 * time.Millisecond, overrunsWant: 3},
	}
	for _, c := range cases {
		r := &runner{}
		cl := &class{period: 10 * time.Millisecond, next: t0}
		r.advance(cl, t0.Add(c.now))
		if got := cl.next.Sub(t0); got != c.next || r.st.Overruns != c.overrunsWant {
			t.Errorf("scan ended at +%v: next +%v overruns %d, want +%v and %d", c.now, got, r.st.Overruns, c.next, c.overrunsWant)
		}
	}
}

func TestRunStopsPromptlyWithHungDriver(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.set(func(f *fake) { f.hang = true })
	store := mapping.NewStore()
	tbl := compile(t, store, device("d1", f.name, time.Second, tagSpec{name: "a", addr: "a"}))
	s := New(tbl, Options{Logger: quietLogger()})
	stop := start(t, s)
	<-f.inRead
	stop() // fails the test if Run does not return
	if o, c := f.get(func(f *fake) int { return f.opens }), f.get(func(f *fake) int { return f.closes }); o != c {
		t.Errorf("opens %d, closes %d: every device must be closed", o, c)
	}
	if st := statusOf(s, "d1"); st.State != StateStopped {
		t.Errorf("state after Run = %q", st.State)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestLogsOneLinePerStateChange(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	d := device("d1", f.name, time.Millisecond, tagSpec{name: "a", addr: "a"})
	d.BackoffMin, d.BackoffMax = time.Millisecond, time.Millisecond
	tbl := compile(t, store, d)
	var buf syncBuffer
	s := New(tbl, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	stop := start(t, s)

	waitFor(t, "up", func() bool { return statusOf(s, "d1").State == StateUp })
	f.set(func(f *fake) { f.failConn = true })
	waitFor(t, "50 failed reconnects", func() bool { return statusOf(s, "d1").Reconnects >= 50 })
	f.set(func(f *fake) { f.failConn = false })
	waitFor(t, "up again", func() bool { return statusOf(s, "d1").State == StateUp })
	stop()

	out := buf.String()
	for msg, want := range map[string]int{`msg="device up"`: 1, `msg="device down"`: 1, `msg="device recovered"`: 1} {
		if got := strings.Count(out, msg); got != want {
			t.Errorf("%s logged %d times, want %d\n%s", msg, got, want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines > 10 {
		t.Errorf("%d log lines for one outage, want a handful:\n%s", lines, out)
	}
	if !strings.Contains(out, "repeats=") {
		t.Errorf("recovery line does not report the repeat count:\n%s", out)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := backoff{min: 10 * time.Millisecond, max: 100 * time.Millisecond}
	ceil := b.min
	for i := 0; i < 20; i++ {
		d := b.next()
		if d < b.min || d > ceil {
			t.Fatalf("step %d: %v outside [%v, %v]", i, d, b.min, ceil)
		}
		ceil = min(2*ceil, b.max)
	}
	b.reset()
	if d := b.next(); d != b.min {
		t.Errorf("after reset: %v, want %v", d, b.min)
	}
}

func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	s := settingsOf(&mapping.Device{})
	if s.backoffMin != DefaultBackoffMin || s.backoffMax != DefaultBackoffMax || s.demoteFor != DefaultDemoteFor ||
		s.writeTimeout != DefaultWriteTimeout || s.demoteAfter != 0 {
		t.Errorf("defaults = %+v", s)
	}
}

func quality(err error) drivers.Quality {
	var qe *drivers.QualityError
	if errors.As(err, &qe) {
		return qe.Quality
	}
	if err == nil {
		return drivers.Good
	}
	return drivers.Bad
}
