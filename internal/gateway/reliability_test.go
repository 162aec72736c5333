package gateway

// Reliability tests of issue 5 against real peers: fault isolation, demotion,
// reconnect cycles and malformed Modbus replies. They assert behaviour a
// user would notice (qualities, values, status variables, counts), never how
// long something took; the scan-period distribution is measured by the
// benchmark harness, not here.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/mbtest"
	"github.com/tagbridge/tagbridge/mapping"
)

// TestRelFaultIsolation: ten devices at 100 ms on ten servers; one is
// black-holed. The nine keep Good, changing values all through a window
// while the dead one's tags are BadCommunicationError with their last value
// and source timestamp.
func TestRelFaultIsolation(t *testing.T) {
	t.Parallel()
	const n, dead = 10, 9
	var srvs [n]*mbtest.Server
	var devs []string
	var px *mbtest.Proxy
	for i := range n {
		srvs[i] = startCountingPLC(t)
		addr := srvs[i].Addr
		opts := ""
		if i == dead {
			px = mbtest.StartProxy(t, addr)
			addr = px.Addr
			opts = ", timeout: 1s" // a dead device costs a whole timeout per scan
		}
		devs = append(devs, relDevice(fmt.Sprintf("dev%d", i), addr, "100ms", opts, "backoff_min: 100ms\nbackoff_max: 500ms"))
	}
	g := startGateway(t, relConfig(devs...))
	counter := func(i int) string { return fmt.Sprintf("dev%d/Counter", i) }
	for i := range n {
		g.waitGood(t, 10*time.Second, counter(i))
	}

	px.BlackHole(true)
	g.waitQuality(t, 15*time.Second, counter(dead), drivers.BadCommunicationError)
	sawBad := time.Now()
	last := g.Value(counter(dead))
	if want := srvs[dead].HR(1, 0, 1)[0]; last.V != want {
		t.Errorf("dead device: value %v, want the last value the server answered (%d)", last.V, want)
	}
	if last.Source.IsZero() || !last.Source.Before(sawBad) {
		t.Errorf("dead device: source timestamp %v, want the last good read (before %v)", last.Source, sawBad)
	}

	// The window: 4 s = 40 periods of the healthy devices, during which the
	// dead one times out and reconnects (through the black hole) again and
	// again.
	const window, minChanges = 4 * time.Second, 5
	var readsBefore [n]uint64
	for i := range n {
		readsBefore[i] = srvs[i].Reads()
	}
	scansBefore := relScans(g)
	seen := make([]map[any]bool, n)
	for i := range seen {
		seen[i] = map[any]bool{}
	}
	bad := map[string]int{}
	end := time.Now().Add(window)
	for samples := 0; time.Now().Before(end) && samples < 1000; samples++ {
		for i := range n {
			v := g.Value(counter(i))
			if i == dead {
				if v.Quality != drivers.BadCommunicationError || v.V != last.V || !v.Source.Equal(last.Source) {
					bad[fmt.Sprintf("dead: %v %v %v", v.Quality, v.V, v.Source)]++
				}
				continue
			}
			if v.Quality != drivers.Good {
				bad[fmt.Sprintf("dev%d: %v %s", i, v.Quality, v.Err)]++
			}
			seen[i][v.V] = true
		}
		time.Sleep(25 * time.Millisecond)
	}
	for what, k := range bad {
		t.Errorf("during the window, %d samples: %s", k, what)
	}
	scansAfter := relScans(g)
	for i := range n {
		name := fmt.Sprintf("dev%d", i)
		reads := srvs[i].Reads() - readsBefore[i]
		t.Logf("%s: %d scans, %d reads answered, %d distinct values seen in %s", name, scansAfter[name]-scansBefore[name], reads, len(seen[i]), window)
		if i == dead {
			if reads != 0 {
				t.Errorf("dead device: its server answered %d reads through a black hole", reads)
			}
			continue
		}
		if reads < minChanges || len(seen[i]) < minChanges {
			t.Errorf("%s: %d reads answered and %d distinct values in %s, want >= %d each: a dead device slowed a healthy one", name, reads, len(seen[i]), window, minChanges)
		}
	}

	// The peer comes back: the device recovers without help.
	px.BlackHole(false)
	waitUntil(t, 15*time.Second, func() bool {
		v := g.Value(counter(dead))
		return v.Quality == drivers.Good && v.V != last.V
	}, func() string {
		return fmt.Sprintf("dead device Good with a new value (now %+v)", g.Value(counter(dead)))
	})
}

// relScans maps each device to its scan count.
func relScans(g *testGateway) map[string]uint64 {
	m := map[string]uint64{}
	for _, s := range g.sched.Status() {
		m[s.Name] = s.Scans
	}
	return m
}

// relStatusOf is the scheduler status of one device.
func relStatusOf(t testing.TB, g *testGateway, name string) (st struct {
	State     string
	Demotions uint64
	Reconns   uint64
}) {
	t.Helper()
	for _, s := range g.sched.Status() {
		if s.Name == name {
			st.State, st.Demotions, st.Reconns = s.State, s.Demotions, s.Reconnects
			return st
		}
	}
	t.Fatalf("no device %q in the scheduler status", name)
	return st
}

// TestRelDemotion: a device that stops answering is demoted after
// demote_after failed scans: tags BadOutOfService, Demoted true, writes
// refused with BadOutOfService (through the scheduler and through OPC UA);
// it comes back Good once the peer answers again.
func TestRelDemotion(t *testing.T) {
	t.Parallel()
	srv := startCountingPLC(t)
	px := mbtest.StartProxy(t, srv.Addr)
	g := startGateway(t, relConfig(relDevice("press", px.Addr, "100ms", ", timeout: 200ms", "demote_after: 3\ndemote_for: 2s\nbackoff_min: 50ms\nbackoff_max: 200ms")))
	g.waitGood(t, 10*time.Second, "press/Counter")
	op := dialUA(t, g.Endpoint, opcua.AuthUsername("operator", "secret"))

	if st := writeValue(t, op, tagNode("press/Setpoint"), uint16(7)); st != ua.StatusOK {
		t.Fatalf("write to a healthy device: %v", st)
	}
	if got := srv.HR(1, 1, 1)[0]; got != 7 {
		t.Fatalf("the device holds %d after the write, want 7", got)
	}

	px.BlackHole(true)
	g.waitQuality(t, 20*time.Second, "press/Counter", drivers.BadOutOfService)
	tag := g.Tag("press/Setpoint")
	werr := g.sched.Write(context.Background(), tag, uint16(9))
	uaStatus := writeValue(t, op, tagNode("press/Setpoint"), uint16(9))
	if q, ok := qualityOf(werr); !ok || q != drivers.BadOutOfService {
		t.Errorf("scheduler write to a demoted device: %v, want BadOutOfService", werr)
	}
	if uaStatus != ua.StatusBadOutOfService {
		t.Errorf("OPC UA write to a demoted device: %v, want BadOutOfService", uaStatus)
	}
	if dem := g.Value("_Devices/press/Demoted"); dem.V != true {
		t.Errorf("_Devices/press/Demoted = %+v, want true", dem)
	}
	if st := g.Value("_Devices/press/State"); st.V != mapping.StateDemoted {
		t.Errorf("_Devices/press/State = %+v, want demoted", st)
	}
	res := readTags(t, op, "press/Counter", "_Devices/press/Demoted")
	if statusOf(res[0]) != ua.StatusBadOutOfService {
		t.Errorf("OPC UA read of a demoted tag: %v, want BadOutOfService", statusOf(res[0]))
	}
	if res[1].Value == nil || res[1].Value.Value() != true {
		t.Errorf("OPC UA read of _Devices/press/Demoted: %v, want true", res[1].Value)
	}
	if got := srv.HR(1, 1, 1)[0]; got != 7 {
		t.Errorf("a refused write reached the device: it holds %d", got)
	}

	px.BlackHole(false)
	waitUntil(t, 20*time.Second, func() bool {
		return g.Value("press/Counter").Quality == drivers.Good && g.Value("_Devices/press/Demoted").V == false
	}, func() string {
		return fmt.Sprintf("recovered (Counter %+v, Demoted %+v)", g.Value("press/Counter"), g.Value("_Devices/press/Demoted"))
	})
	if st := relStatusOf(t, g, "press"); st.Demotions == 0 {
		t.Errorf("scheduler status after recovery: %+v, want at least one demotion counted", st)
	}
	if st := writeValue(t, op, tagNode("press/Setpoint"), uint16(11)); st != ua.StatusOK {
		t.Errorf("write after recovery: %v", st)
	}
}

// TestRelReconnectCycles kills and restarts the PLC (the server closes every
// connection and its port, then listens on the same port again) many times:
// the data is Good again after each restart and no goroutine or file
// descriptor is left behind. The benchmark harness runs 1000 cycles; here
// 200 (30 with -short). Not parallel: it counts the whole process's
// goroutines and descriptors.
func TestRelReconnectCycles(t *testing.T) {
	cycles := 200
	if testing.Short() {
		cycles = 30
	}
	srv := startCountingPLC(t)
	g := startGateway(t, relConfig(relDevice("plc", srv.Addr, "50ms", "", "backoff_min: 10ms\nbackoff_max: 100ms")))
	const tag = "plc/Counter"
	g.waitGood(t, 10*time.Second, tag)

	cycle := func(i int) {
		t.Helper()
		srv.Stop()
		waitUntil(t, 10*time.Second, func() bool { return g.Value(tag).Quality == drivers.BadCommunicationError },
			func() string {
				return fmt.Sprintf("cycle %d: BadCommunicationError after the stop (now %+v)", i, g.Value(tag))
			})
		before := g.Value(tag).V
		var err error
		for range 50 { // the port may linger for a moment
			if err = srv.Resume(); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("cycle %d: restart the server on %s: %v", i, srv.Addr, err)
		}
		waitUntil(t, 10*time.Second, func() bool {
			v := g.Value(tag)
			return v.Quality == drivers.Good && v.V != before
		}, func() string {
			return fmt.Sprintf("cycle %d: Good with new data after the restart (now %+v)", i, g.Value(tag))
		})
	}
	for i := range 3 { // warm up: the link, the backoff and the runtime settle
		cycle(i)
	}
	gr0, fd0 := relSettled(0, 0)
	for i := range cycles {
		cycle(i)
	}
	const tolG, tolFD = 5, 3
	gr1, fd1 := relSettled(gr0+tolG, fd0+tolFD)
	st := relStatusOf(t, g, "plc")
	t.Logf("%d restart cycles: goroutines %d -> %d, fds %d -> %d, scheduler reconnects %d", cycles, gr0, gr1, fd0, fd1, st.Reconns)
	if gr1 > gr0+tolG {
		t.Errorf("goroutines grew from %d to %d over %d restarts\n%s", gr0, gr1, cycles, relStacks())
	}
	if fd0 >= 0 && fd1 > fd0+tolFD {
		t.Errorf("file descriptors grew from %d to %d over %d restarts", fd0, fd1, cycles)
	}
}

// relSettled waits (bounded) until the goroutine and fd counts are at most
// the given limits (0: just let things settle) and returns them.
func relSettled(maxG, maxFD int) (int, int) {
	var gr, fd int
	for i := range 50 {
		runtime.GC()
		gr, fd = runtime.NumGoroutine(), openFDs()
		if maxG == 0 && i >= 10 || maxG > 0 && i >= 5 && gr <= maxG && fd <= maxFD {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return gr, fd
}

// openFDs counts this process's open file descriptors (Linux), or -1.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// qualityOf extracts the quality from a scheduler write error.
func qualityOf(err error) (drivers.Quality, bool) {
	var qe *drivers.QualityError
	if errors.As(err, &qe) {
		return qe.Quality, true
	}
	return 0, false
}

func relStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestRelMalformedResponses: a peer that answers garbage, a short frame,
// hangs up mid-response or answers the wrong request makes only its own
// device Bad; the device recovers when the peer behaves, another device
// stays Good all along, and the OPC UA server keeps serving (also unknown
// nodes and attributes get a status, not a hang-up).
func TestRelMalformedResponses(t *testing.T) {
	t.Parallel()
	srv := startCountingPLC(t)
	raw := mbtest.StartRaw(t)
	settings := "backoff_min: 20ms\nbackoff_max: 200ms"
	g := startGateway(t, relConfig(
		relDevice("good", srv.Addr, "100ms", "", settings),
		relDevice("bad", raw.Addr, "100ms", ", timeout: 200ms", settings)))
	g.waitGood(t, 10*time.Second, "good/Counter", "bad/Counter")
	c := dialUA(t, g.Endpoint)

	watch := g.watchGood(t, "good/Counter", 20*time.Millisecond) // the healthy device, all through the test

	for _, mode := range []string{"garbage", "short", "close", "wrong-tid", "wrong-fc", "bad-count", "bad-length", "empty-exception"} {
		raw.SetMode(mode)
		waitUntil(t, 10*time.Second, func() bool { return g.Value("bad/Counter").Quality.IsBad() },
			func() string { return fmt.Sprintf("%s: bad/Counter Bad (now %+v)", mode, g.Value("bad/Counter")) })
		v := g.Value("bad/Counter")
		t.Logf("%s: %v (%s)", mode, v.Quality, v.Err)
		if v.Quality != drivers.BadCommunicationError {
			t.Errorf("%s: quality %v, want BadCommunicationError", mode, v.Quality)
		}
		raw.SetMode("ok")
		waitUntil(t, 10*time.Second, func() bool {
			n := g.Value("bad/Counter")
			return n.Quality == drivers.Good && n.V != v.V
		}, func() string {
			return fmt.Sprintf("%s: recovered with new data (now %+v)", mode, g.Value("bad/Counter"))
		})
	}
	for q, n := range watch() {
		t.Errorf("the healthy device was %s in %d samples while the other one got malformed replies", q, n)
	}

	res := readTags(t, c, "good/Counter", "bad/Counter", "no/such/tag")
	if statusOf(res[0]) != ua.StatusOK || statusOf(res[1]) != ua.StatusOK {
		t.Errorf("after the malformed replies: good %v, bad %v, want both Good", statusOf(res[0]), statusOf(res[1]))
	}
	if statusOf(res[2]) != ua.StatusBadNodeIDUnknown {
		t.Errorf("unknown node: %v, want BadNodeIdUnknown", statusOf(res[2]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ar, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: tagNode("good/Counter"), AttributeID: 999}}})
	if err != nil || len(ar.Results) != 1 || statusOf(ar.Results[0]) != ua.StatusBadAttributeIDInvalid {
		t.Errorf("unknown attribute: %v %+v, want BadAttributeIdInvalid", err, ar)
	}
}
