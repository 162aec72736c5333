package modbus

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	sv "github.com/simonvetter/modbus"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// openDev opens a device on drv (a fresh Driver when nil) and closes it at
// the end of the test.
func openDev(t *testing.T, drv *Driver, name string, opts map[string]any) *Device {
	t.Helper()
	if drv == nil {
		drv = NewDriver()
	}
	d, err := drv.Open(context.Background(), name, opts)
	if err != nil {
		t.Fatalf("Open(%v): %v", opts, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.(*Device)
}

func tcpOpts(addr string, kv ...any) map[string]any {
	m := map[string]any{"transport": "tcp", "address": addr, "timeout": "5s", "reconnect_min": "20ms", "reconnect_max": "100ms"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func addr(a string, typ drivers.Type, extra ...any) drivers.Address {
	ad := drivers.Address{Tag: "t/" + a, Addr: a, Type: typ}
	for i := 0; i+1 < len(extra); i += 2 {
		switch extra[i] {
		case "order":
			ad.Order = extra[i+1].(string)
		case "length":
			ad.Length = extra[i+1].(int)
		}
	}
	return ad
}

func read(t *testing.T, d drivers.Device, addrs []drivers.Address) ([]drivers.Sample, error) {
	t.Helper()
	out := make([]drivers.Sample, len(addrs))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.Read(ctx, addrs, out)
	return out, err
}

func TestReadEveryTable(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	f := math.Float32bits(21.5)
	s.SetHR(1, 0, 1234, 0xFFFE, uint16(f>>16), uint16(f), uint16(f), uint16(f>>16))
	s.SetHR(1, 10, 0x0008)                         // bit 3
	s.SetHR(1, 20, 0x4142, 0x4344)                 // "ABCD"
	s.SetHR(1, 30, 0x0000, 0x0000, 0x0001, 0x0002) // uint64 0x0000000000010002
	s.SetIR(1, 0, 42, 0x0001, 0x0000)
	s.SetCoils(1, 0, true, false, true)
	s.SetDI(1, 0, false, true, true)
	d := openDev(t, nil, "plc", tcpOpts(s.Addr))

	cases := []struct {
		a    drivers.Address
		want any
	}{
		{addr("40001", drivers.Uint16), uint16(1234)},
		{addr("hr:1", drivers.Int16), int16(-2)},
		{addr("hr:2", drivers.Float32), float32(21.5)},
		{addr("hr:4", drivers.Float32, "order", "CDAB"), float32(21.5)},
		{addr("40011.3", drivers.Bool), true},
		{addr("hr:10.2", drivers.Bool), false},
		{addr("hr:20", drivers.String, "length", 4), "ABCD"},
		{addr("hr:30", drivers.Uint64), uint64(0x10002)},
		{addr("30001", drivers.Uint16), uint16(42)},
		{addr("ir:1", drivers.Int32), int32(0x10000)},
		{addr("00001", drivers.Bool), true},
		{addr("coil:1", drivers.Bool), false},
		{addr("coil:2", drivers.Bool), true},
		{addr("10001", drivers.Bool), false},
		{addr("di:1", drivers.Bool), true},
	}
	addrs := make([]drivers.Address, len(cases))
	for i, c := range cases {
		addrs[i] = c.a
	}
	before := time.Now()
	out, err := read(t, d, addrs)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for i, c := range cases {
		if out[i].Quality != drivers.Good || out[i].Value != c.want {
			t.Errorf("%s %s: got %v %T(%v) err %v, want Good %T(%v)", c.a.Addr, c.a.Type, out[i].Quality, out[i].Value, out[i].Value, out[i].Err, c.want, c.want)
		}
		if out[i].Time.Before(before) {
			t.Errorf("%s: sample time %v is before the read started", c.a.Addr, out[i].Time)
		}
	}
	// One request per table: the planner merged everything else.
	fcs := map[uint8]int{}
	for _, r := range s.Requests() {
		fcs[r.FC]++
	}
	if fcs[1] != 1 || fcs[2] != 1 || fcs[3] != 1 || fcs[4] != 1 || len(s.Requests()) != 4 {
		t.Errorf("requests on the wire: %+v, want one each of fc1, fc2, fc3, fc4", s.Requests())
	}
}

func TestException2IsolatesBadPoints(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	for i := range uint16(12) {
		s.SetHR(1, i, 100+i)
	}
	s.Illegal(5)
	d := openDev(t, nil, "press3", tcpOpts(s.Addr))
	var addrs []drivers.Address
	for _, a := range []string{"hr:0", "hr:1", "hr:2", "hr:4", "hr:5", "hr:6", "hr:8", "hr:9"} {
		addrs = append(addrs, addr(a, drivers.Uint16))
	}
	b, err := d.Prepare(addrs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.(drivers.Planner).Requests()); n != 1 {
		t.Fatalf("plan has %d requests, want 1 merged request", n)
	}
	check := func(round int) {
		out := make([]drivers.Sample, len(addrs))
		if err := b.Read(context.Background(), out); err != nil {
			t.Fatalf("round %d: Read: %v (an exception is not a batch error)", round, err)
		}
		for i, a := range addrs {
			if a.Addr == "hr:5" {
				if out[i].Quality != drivers.BadConfigurationError {
					t.Errorf("round %d: hr:5 quality %v, want BadConfigurationError", round, out[i].Quality)
				}
				want := "modbus press3: hr:5 x1 (fc3): exception 2 (illegal data address)"
				if out[i].Err == nil || out[i].Err.Error() != want {
					t.Errorf("round %d: hr:5 err %q, want %q", round, out[i].Err, want)
				}
				var qe *drivers.QualityError
				if !errors.As(out[i].Err, &qe) || qe.Quality != drivers.BadConfigurationError {
					t.Errorf("round %d: hr:5 err is not a QualityError with BadConfigurationError", round)
				}
				continue
			}
			n, _ := strconv.Atoi(a.Addr[3:])
			want := uint16(n)
			if out[i].Quality != drivers.Good || out[i].Value != 100+want {
				t.Errorf("round %d: %s = %v %v (%v), want Good %d", round, a.Addr, out[i].Quality, out[i].Value, out[i].Err, 100+want)
			}
		}
	}
	check(1)
	reqs := b.(drivers.Planner).Requests()
	isolated := false
	for _, r := range reqs {
		if r.Start == 5 && r.Count == 1 {
			isolated = true
		}
		if r.Count == 10 {
			t.Errorf("the failing merged request is still planned: %+v", reqs)
		}
	}
	if !isolated {
		t.Errorf("no request isolates hr:5 after the split: %+v", reqs)
	}
	// Later scans send only the remembered pieces: no retry of the merged
	// request, no new splitting.
	s.ResetRequests()
	check(2)
	if got := len(s.Requests()); got != len(reqs) {
		t.Errorf("second scan sent %d requests, want the %d remembered ones: %+v", got, len(reqs), s.Requests())
	}
}

func TestException2InGapKeepsEveryPointGood(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetHR(1, 0, 1, 2, 3, 4, 5, 6, 7)
	s.Illegal(3) // a hole between the tags that the planner read as gap
	d := openDev(t, nil, "plc", tcpOpts(s.Addr))
	addrs := []drivers.Address{addr("hr:0", drivers.Uint16), addr("hr:2", drivers.Uint16), addr("hr:4", drivers.Uint16), addr("hr:6", drivers.Uint16)}
	b, _ := d.Prepare(addrs)
	out := make([]drivers.Sample, len(addrs))
	if err := b.Read(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	for i, smp := range out {
		if smp.Quality != drivers.Good {
			t.Errorf("%s: %v %v, want Good (the bad address is not a tag)", addrs[i].Addr, smp.Quality, smp.Err)
		}
	}
	s.ResetRequests()
	if err := b.Read(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("second scan: %d requests, want 2 (the split around the hole): %+v", n, s.Requests())
	}
}

func TestExceptionQualities(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.Fail(20, sv.ErrServerDeviceFailure)
	s.Fail(40, sv.ErrGWTargetFailedToRespond)
	s.Fail(60, sv.ErrServerDeviceBusy)
	s.SetHR(1, 0, 7)
	d := openDev(t, nil, "plc", tcpOpts(s.Addr, "max_gap", 0))
	addrs := []drivers.Address{
		addr("hr:0", drivers.Uint16), addr("hr:20", drivers.Uint16), addr("hr:21", drivers.Uint16),
		addr("hr:40", drivers.Uint16), addr("hr:60", drivers.Uint16),
	}
	out, err := read(t, d, addrs)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := []drivers.Quality{drivers.Good, drivers.BadDeviceFailure, drivers.BadDeviceFailure, drivers.BadCommunicationError, drivers.BadDeviceFailure}
	for i, q := range want {
		if out[i].Quality != q {
			t.Errorf("%s: %v (%v), want %v", addrs[i].Addr, out[i].Quality, out[i].Err, q)
		}
	}
	if !strings.Contains(out[1].Err.Error(), "hr:20 x2 (fc3): exception 4 (server device failure)") {
		t.Errorf("hr:20 err = %v, want the request and exception 4 named", out[1].Err)
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		a     drivers.Address
		v     any
		force bool
		fcs   []uint8 // function codes on the wire, in order
		check func(s *mbtest.Server) bool
	}{
		{"coil fc5", addr("coil:3", drivers.Bool), true, false, []uint8{5}, func(s *mbtest.Server) bool { return s.Coil(1, 3) }},
		{"coil forced fc15", addr("00005", drivers.Bool), true, true, []uint8{15}, func(s *mbtest.Server) bool { return s.Coil(1, 4) }},
		{"register fc6", addr("hr:7", drivers.Uint16), uint16(513), false, []uint8{6}, func(s *mbtest.Server) bool { return s.HR(1, 7, 1)[0] == 513 }},
		{"register forced fc16", addr("40009", drivers.Int16), int16(-1), true, []uint8{16}, func(s *mbtest.Server) bool { return s.HR(1, 8, 1)[0] == 0xFFFF }},
		{"float32 CDAB fc16", addr("hr:20", drivers.Float32, "order", "CDAB"), float32(1.5), false, []uint8{16},
			func(s *mbtest.Server) bool { w := s.HR(1, 20, 2); return w[0] == 0x0000 && w[1] == 0x3FC0 }},
		{"bit read-modify-write", addr("hr:30.3", drivers.Bool), true, false, []uint8{3, 6},
			func(s *mbtest.Server) bool { return s.HR(1, 30, 1)[0] == 0xF0F8 }},
		{"bit clear forced", addr("hr:30.4", drivers.Bool), false, true, []uint8{3, 16},
			func(s *mbtest.Server) bool { return s.HR(1, 30, 1)[0] == 0xF0E0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := mbtest.Start(t)
			s.SetHR(1, 30, 0xF0F0)
			d := openDev(t, nil, "plc", tcpOpts(s.Addr, "force_multiple_writes", c.force))
			if err := d.Write(context.Background(), c.a, c.v); err != nil {
				t.Fatalf("Write: %v", err)
			}
			var got []uint8
			for _, r := range s.Requests() {
				got = append(got, r.FC)
			}
			if !equal(got, c.fcs) {
				t.Errorf("function codes on the wire %v, want %v", got, c.fcs)
			}
			if !c.check(s) {
				t.Errorf("the server does not hold the written value (hr:7..8 %v, hr:20 %v, hr:30 %04x)", s.HR(1, 7, 2), s.HR(1, 20, 2), s.HR(1, 30, 1))
			}
			out, err := read(t, d, []drivers.Address{c.a})
			if err != nil || out[0].Value != c.v {
				t.Errorf("read back %v (%v), want %v", out[0].Value, err, c.v)
			}
		})
	}
}

func equal(a, b []uint8) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriteRefused(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.Illegal(50)
	d := openDev(t, nil, "plc", tcpOpts(s.Addr))
	cases := []struct {
		a    drivers.Address
		v    any
		want drivers.Quality
	}{
		{addr("ir:0", drivers.Uint16), uint16(1), drivers.BadNotWritable},
		{addr("di:0", drivers.Bool), true, drivers.BadNotWritable},
		{addr("hr:0", drivers.Uint16), "text", drivers.BadTypeMismatch},
		{addr("coil:0", drivers.Bool), 1, drivers.BadTypeMismatch},
		{addr("hr:50", drivers.Uint16), uint16(1), drivers.BadConfigurationError},
		{addr("bogus", drivers.Uint16), uint16(1), drivers.BadConfigurationError},
	}
	for _, c := range cases {
		err := d.Write(context.Background(), c.a, c.v)
		var qe *drivers.QualityError
		if !errors.As(err, &qe) || qe.Quality != c.want {
			t.Errorf("Write(%s, %T): %v, want a QualityError %v", c.a.Addr, c.v, err, c.want)
		}
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests reached the wire, want 1 (only hr:50 is a valid write): %+v", n, s.Requests())
	}
}

func TestPeerRestart(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetHR(1, 0, 77)
	d := openDev(t, nil, "plc", tcpOpts(s.Addr))
	addrs := []drivers.Address{addr("hr:0", drivers.Uint16)}
	if _, err := read(t, d, addrs); err != nil {
		t.Fatalf("first read: %v", err)
	}
	s.Stop()
	out, err := read(t, d, addrs)
	if !errors.Is(err, drivers.ErrBadConn) {
		t.Fatalf("read with the peer down: err %v, want ErrBadConn", err)
	}
	if out[0].Quality != drivers.BadCommunicationError {
		t.Errorf("sample with the peer down: %v, want BadCommunicationError", out[0].Quality)
	}
	s.Restart(t)
	// The scheduler retries with its own backoff; the link reconnects once
	// its reconnect backoff (20..100ms here) allows.
	for i := 0; ; i++ {
		out, err = read(t, d, addrs)
		if err == nil && out[0].Quality == drivers.Good && out[0].Value == uint16(77) {
			break
		}
		if i == 100 {
			t.Fatalf("no recovery after the peer restarted: %v %v", err, out[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := d.drv.LinkStats(); len(st) != 1 || st[0].Reconnects < 1 || !st[0].Connected {
		t.Errorf("link stats after recovery: %+v, want connected with a reconnect counted", st)
	}
}

func TestBlackHoleDoesNotBlockOtherLinks(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetHR(1, 0, 5)
	hole := mbtest.StartBlackHole(t)
	drv := NewDriver()
	dead := openDev(t, drv, "dead", tcpOpts(hole.Addr, "timeout", "1500ms", "timeouts_before_reconnect", 2))
	alive := openDev(t, drv, "alive", tcpOpts(s.Addr))
	addrs := []drivers.Address{addr("hr:0", drivers.Uint16)}

	type result struct {
		out []drivers.Sample
		err error
	}
	deadDone := make(chan result, 1)
	go func() {
		out := make([]drivers.Sample, 1)
		err := dead.Read(context.Background(), addrs, out)
		deadDone <- result{out, err}
	}()
	for i := range 5 {
		out, err := read(t, alive, addrs)
		if err != nil || out[0].Quality != drivers.Good {
			t.Fatalf("alive read %d: %v %v", i, err, out[0])
		}
	}
	select {
	case <-deadDone:
		t.Fatal("the dead device's read ended before the healthy device's five reads: the test proves nothing")
	default:
	}
	r := <-deadDone
	if r.err == nil || errors.Is(r.err, drivers.ErrBadConn) || !errors.Is(r.err, errTimeout) {
		t.Errorf("first timeout: err %v, want a timeout that is not ErrBadConn", r.err)
	}
	if r.out[0].Quality != drivers.BadCommunicationError {
		t.Errorf("dead sample: %v, want BadCommunicationError", r.out[0].Quality)
	}
	// The second scan in a row without a reply asks the scheduler to reopen.
	if _, err := read(t, dead, addrs); !errors.Is(err, drivers.ErrBadConn) || !errors.Is(err, errTimeout) {
		t.Errorf("second timeout: err %v, want ErrBadConn wrapping the timeout", err)
	}
}

func TestReadAfterCloseAndCancelled(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	d := openDev(t, nil, "plc", tcpOpts(s.Addr))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := make([]drivers.Sample, 1)
	if err := d.Read(ctx, []drivers.Address{addr("hr:0", drivers.Uint16)}, out); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v", err)
	}
	_ = d.Close()
	if err := d.Read(context.Background(), []drivers.Address{addr("hr:0", drivers.Uint16)}, out); !errors.Is(err, errClosed) {
		t.Errorf("read after close: %v", err)
	}
	if len(s.Requests()) != 0 {
		t.Errorf("requests reached the wire: %+v", s.Requests())
	}
}

func TestPrepareBadAddressIsBadSample(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetHR(1, 0, 3)
	d := openDev(t, nil, "plc", tcpOpts(s.Addr))
	addrs := []drivers.Address{addr("hr:0", drivers.Uint16), addr("hr:x", drivers.Uint16), addr("coil:0", drivers.Float32)}
	out, err := read(t, d, addrs)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Quality != drivers.Good || out[1].Quality != drivers.BadConfigurationError || out[2].Quality != drivers.BadConfigurationError {
		t.Errorf("qualities %v %v %v", out[0].Quality, out[1].Quality, out[2].Quality)
	}
	if err := d.Check(addrs[2]); err == nil || !strings.Contains(err.Error(), "plc") {
		t.Errorf("Check: %v, want an error naming the device", err)
	}
}
