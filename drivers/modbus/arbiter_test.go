package modbus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/modbus/internal/mbtest"
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
