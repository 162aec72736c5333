package modbus

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

func TestSharedLinkSerializesUnits(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetDelay(2 * time.Millisecond)
	s.SetHR(1, 0, 111)
	s.SetHR(2, 0, 222)
	drv := NewDriver()
	d1 := openDev(t, drv, "u1", tcpOpts(s.Addr, "unit_id", 1))
	d2 := openDev(t, drv, "u2", tcpOpts(s.Addr, "unit_id", 2))
	if st := drv.LinkStats(); len(st) != 1 || st[0].Devices != 2 || len(st[0].Units) != 2 {
		t.Fatalf("link stats %+v, want one link with two devices", st)
	}
	addrs := []drivers.Address{addr("hr:0", drivers.Uint16)}
	errs := make(chan error, 2)
	for _, c := range []struct {
		d    *Device
		want uint16
	}{{d1, 111}, {d2, 222}} {
		go func() {
			for range 20 {
				out := make([]drivers.Sample, 1)
				if err := c.d.Read(context.Background(), addrs, out); err != nil {
					errs <- err
					return
				}
				if out[0].Value != c.want {
					errs <- errors.New("a device read another unit's value")
					return
				}
			}
			errs <- nil
		}()
	}
	var failed []error // wait for both readers before failing: they use the devices
	for range 2 {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		t.Fatal(failed)
	}
	if n := s.MaxConcurrent(); n != 1 {
		t.Errorf("the server saw %d requests at once on the shared link, want 1", n)
	}
	for _, r := range s.Requests() {
		if r.Unit != 1 && r.Unit != 2 {
			t.Errorf("request with unit %d", r.Unit)
		}
	}
	if len(s.Requests()) != 40 {
		t.Errorf("%d requests, want 40", len(s.Requests()))
	}
}

// waitStat polls the link stats until cond holds (bounded).
func waitStat(t *testing.T, drv *Driver, cond func(LinkStat) bool) {
	t.Helper()
	for i := 0; ; i++ {
		if st := drv.LinkStats(); len(st) == 1 && cond(st[0]) {
			return
		}
		if i == 500 {
			t.Fatalf("link stats never matched: %+v", drv.LinkStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetHR(1, 0, 1)
	s.SetDelay(200 * time.Millisecond)
	drv := NewDriver()
	d := openDev(t, drv, "plc", tcpOpts(s.Addr))
	// The requests below are issued by separate goroutines, as several
	// devices sharing the link would; each device is still used by one.
	d2 := openDev(t, drv, "plc2", tcpOpts(s.Addr))
	d3 := openDev(t, drv, "plc3", tcpOpts(s.Addr))
	d4 := openDev(t, drv, "plc4", tcpOpts(s.Addr))

	blockDone := make(chan error, 1)
	go func() { _, err := read(t, d, []drivers.Address{addr("hr:0", drivers.Uint16)}); blockDone <- err }()
	waitStat(t, drv, func(s LinkStat) bool { return s.Requests == 1 })

	// A poll whose caller gives up while it waits never reaches the wire.
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		out := make([]drivers.Sample, 1)
		cancelled <- d2.Read(ctx, []drivers.Address{addr("hr:10", drivers.Uint16)}, out)
	}()
	waitStat(t, drv, func(s LinkStat) bool { return s.QueueDepth == 1 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v, want context.Canceled", err)
	}
	// A poll queued before a write still goes after it.
	pollDone := make(chan error, 1)
	go func() { _, err := read(t, d3, []drivers.Address{addr("hr:20", drivers.Uint16)}); pollDone <- err }()
	waitStat(t, drv, func(s LinkStat) bool { return s.QueueDepth == 2 })
	if err := d4.Write(context.Background(), addr("hr:30", drivers.Uint16), uint16(9)); err != nil {
		t.Fatalf("write: %v", err)
	}
	for _, ch := range []chan error{blockDone, pollDone} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	var got []uint16
	for _, r := range s.Requests() {
		got = append(got, r.Addr)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 30 || got[2] != 20 {
		t.Errorf("addresses on the wire %v, want [0 30 20]: the write before the queued poll, the cancelled poll (10) never", got)
	}
	waitStat(t, drv, func(s LinkStat) bool { return s.Dropped == 1 })
}

// scanAddrs are three points that the planner cannot merge (default
// max_gap 16): one prepared read is three requests, run as one link job.
var scanAddrs = []drivers.Address{addr("hr:0", drivers.Uint16), addr("hr:200", drivers.Uint16), addr("hr:400", drivers.Uint16)}

func wireAddrs(s *mbtest.Server) []uint16 {
	var got []uint16
	for _, r := range s.Requests() {
		got = append(got, r.Addr)
	}
	return got
}

func TestScanLetsWritesGoFirst(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetDelay(100 * time.Millisecond)
	for i, a := range []uint16{0, 200, 400} {
		s.SetHR(1, a, uint16(10+i))
	}
	drv := NewDriver()
	d := openDev(t, drv, "plc", tcpOpts(s.Addr))
	w := openDev(t, drv, "plc-writer", tcpOpts(s.Addr))
	b, err := d.Prepare(scanAddrs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]drivers.Sample, len(scanAddrs))
	done := make(chan error, 1)
	go func() { done <- b.Read(context.Background(), out) }()
	waitStat(t, drv, func(s LinkStat) bool { return s.Requests == 1 })
	// The scan is on the wire: a write queued now goes before its next request.
	if err := w.Write(context.Background(), addr("hr:30", drivers.Uint16), uint16(9)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("scan: %v", err)
	}
	for i, smp := range out {
		if smp.Quality != drivers.Good || smp.Value != uint16(10+i) {
			t.Errorf("%s = %v %v (%v), want %d Good", scanAddrs[i].Addr, smp.Value, smp.Quality, smp.Err, 10+i)
		}
	}
	if got := wireAddrs(s); !slices.Equal(got, []uint16{0, 30, 200, 400}) {
		t.Errorf("addresses on the wire %v, want [0 30 200 400]: the write between the scan's requests", got)
	}
}

func TestScanCancelledMidway(t *testing.T) {
	t.Parallel()
	s := mbtest.Start(t)
	s.SetDelay(100 * time.Millisecond)
	for i, a := range []uint16{0, 200, 400} {
		s.SetHR(1, a, uint16(10+i))
	}
	drv := NewDriver()
	d := openDev(t, drv, "plc", tcpOpts(s.Addr))
	b, err := d.Prepare(scanAddrs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]drivers.Sample, len(scanAddrs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Read(ctx, out) }()
	// The first request was answered and the second is on the wire.
	waitStat(t, drv, func(s LinkStat) bool { return s.Requests == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v, want context.Canceled", err)
	}
	if out[0].Quality != drivers.Good || out[0].Value != uint16(10) {
		t.Errorf("hr:0 read before the cancel = %v %v, want 10 Good", out[0].Value, out[0].Quality)
	}
	for _, smp := range out[1:] {
		if smp.Quality == drivers.Good || !errors.Is(smp.Err, context.Canceled) {
			t.Errorf("point not read before the cancel: %v %v, want Bad with the ctx error", smp.Quality, smp.Err)
		}
	}
	// The same batch reads again; the cancelled scan's third request never
	// went out (the link runs one job at a time, so it would come first).
	if err := b.Read(context.Background(), out); err != nil {
		t.Fatalf("read after cancel: %v", err)
	}
	for i, smp := range out {
		if smp.Quality != drivers.Good || smp.Value != uint16(10+i) {
			t.Errorf("%s = %v %v (%v), want %d Good", scanAddrs[i].Addr, smp.Value, smp.Quality, smp.Err, 10+i)
		}
	}
	if got := wireAddrs(s); !slices.Equal(got, []uint16{0, 200, 0, 200, 400}) {
		t.Errorf("addresses on the wire %v, want [0 200 0 200 400]", got)
	}
}
