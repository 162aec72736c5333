package drivertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/drivers"
)

// OpenFunc opens a fresh device for one subtest and returns it with the
// addresses to read from it. Every address it returns must read Good when
// the device is healthy. t is the subtest's: register the peer's clean-up
// with t.Cleanup, and use t.Fatal when the peer cannot start. The suite
// closes the device itself (some subtests close it twice on purpose).
type OpenFunc func(t *testing.T) (drivers.Device, []drivers.Address)

// Write is one write the suite performs and reads back.
type Write struct {
	Addr  drivers.Address // a writable address of the device returned by Open
	Value any             // in the Go type of Addr.Type (Addr.Type.Zero())
}

// Suite describes a driver under test. Only Open is required; every other
// field switches on subtests that need the harness's help and are skipped
// (with a log line saying why) when it is empty.
//
// All addresses in Bad, Static, Writes and ReadOnly are read or written on a
// device returned by Open, so Open must connect to a peer that serves them.
type Suite struct {
	// Open opens a healthy device. Required.
	Open OpenFunc

	// Bad are addresses that are syntactically valid for the driver but that
	// the device reports as a per-point problem (for Modbus: a register the
	// server answers with exception 2; for the simulator: "bad:..."). Reading
	// them together with Open's addresses must give Bad samples, not a batch
	// error.
	Bad []drivers.Address

	// Static are addresses whose value does not change between two reads,
	// used to check that a prepared Batch reads the same as Device.Read. When
	// nil, the addresses returned by Open are used (so they must be static).
	Static []drivers.Address

	// Writes are written and read back when the device is a drivers.Writer.
	Writes []Write

	// ReadOnly are addresses whose Write must fail with an error (ideally a
	// *drivers.QualityError with BadNotWritable).
	ReadOnly []drivers.Address

	// OpenSlow opens a device whose Read takes far longer than the suite
	// waits (seconds or forever) unless its context is cancelled, e.g. a peer
	// that never answers. Used to check that cancelling ctx during a Read
	// makes it return. nil skips that subtest.
	OpenSlow OpenFunc

	// LeakOptions are extra goleak options for the goroutine-leak check, for
	// goroutines that belong to the test peer rather than to the driver.
	// Prefer starting shared peers before calling Run: goroutines that exist
	// when a subtest starts are ignored anyway.
	LeakOptions []goleak.Option

	// Timeout bounds every single call the suite makes into the driver, so a
	// hung call fails the test instead of hanging it. It is a hang guard, not
	// a performance assertion. Default 10s.
	Timeout time.Duration
}

// Run runs the conformance checks that need nothing but an open function.
// It is Suite{Open: open}.Run(t).
func Run(t *testing.T, open OpenFunc) {
	t.Helper()
	Suite{Open: open}.Run(t)
}

// Run runs every conformance check as a subtest of t. The subtests run one
// after the other, and the caller must not mark t (or any top-level test of
// the same package that starts goroutines) with t.Parallel while the suite
// runs: the goroutine-leak check needs the process to itself.
func (s Suite) Run(t *testing.T) {
	t.Helper()
	if s.Open == nil {
		t.Fatal("drivertest: Suite.Open is nil")
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	t.Run("ReadFillsEverySlot", s.testReadFills)
	t.Run("EmptyRead", s.testEmptyRead)
	t.Run("BadPointIsBadSample", s.testBadPoint)
	t.Run("CloseIdempotent", s.testCloseTwice)
	t.Run("ReadAfterClose", s.testReadAfterClose)
	t.Run("CancelledContext", s.testCancelled)
	t.Run("CancelDuringSlowRead", s.testCancelSlow)
	t.Run("PreparedMatchesRead", s.testPrepared)
	t.Run("WriteReadBack", s.testWriteReadBack)
	t.Run("WriteReadOnly", s.testWriteReadOnly)
	t.Run("NoGoroutineLeak", s.testNoLeak)
}

// open opens a device and closes it at the end of the subtest if the
// subtest did not (Close is idempotent, so closing again is part of the
// contract).
func (s Suite) open(t *testing.T, f OpenFunc) (drivers.Device, []drivers.Address) {
	t.Helper()
	dev, addrs := f(t)
	if dev == nil {
		t.Fatal("drivertest: open returned a nil Device")
	}
	t.Cleanup(func() { _ = s.close(t, dev) })
	return dev, addrs
}

func (s Suite) testReadFills(t *testing.T) {
	dev, addrs := s.open(t, s.Open)
	if len(addrs) == 0 {
		t.Fatal("drivertest: open returned no addresses")
	}
	// Several reads: a driver must fill the slots every time, not only on
	// the first (connecting) read.
	for i := range 3 {
		out := s.mustRead(t, dev, addrs)
		for j, smp := range out {
			checkSample(t, fmt.Sprintf("read %d", i), j, addrs[j], smp)
			if !smp.Quality.IsGood() {
				t.Errorf("read %d slot %d (%s %q): quality %v, want Good (Open's addresses must read Good; err: %v)",
					i, j, addrs[j].Type, addrs[j].Addr, smp.Quality, smp.Err)
			}
		}
	}
}

func (s Suite) testEmptyRead(t *testing.T) {
	dev, _ := s.open(t, s.Open)
	// Either nil or an error is fine; a panic or a hang is not.
	_ = s.call(t, "Read of no addresses", func() error {
		return dev.Read(context.Background(), nil, nil)
	})
}

func (s Suite) testBadPoint(t *testing.T) {
	if len(s.Bad) == 0 {
		t.Skip("drivertest: Suite.Bad is empty")
	}
	dev, good := s.open(t, s.Open)
	// Interleave good and bad points so a driver that stops at the first
	// bad point, or shifts slots, is caught.
	var addrs []drivers.Address
	var bad []bool
	for i := 0; i < len(good) || i < len(s.Bad); i++ {
		if i < len(good) {
			addrs, bad = append(addrs, good[i]), append(bad, false)
		}
		if i < len(s.Bad) {
			addrs, bad = append(addrs, s.Bad[i]), append(bad, true)
		}
	}
	out := fill(len(addrs))
	err := s.call(t, "Read", func() error { return dev.Read(context.Background(), addrs, out) })
	if err != nil {
		t.Fatalf("Read with bad points returned a batch error %v; per-point problems must be Bad samples", err)
	}
	for i, smp := range out {
		checkSample(t, "mixed read", i, addrs[i], smp)
		switch {
		case bad[i] && !smp.Quality.IsBad():
			t.Errorf("slot %d (%q): quality %v, want a Bad quality", i, addrs[i].Addr, smp.Quality)
		case !bad[i] && !smp.Quality.IsGood():
			t.Errorf("slot %d (%q): quality %v next to a bad point, want Good (err: %v)", i, addrs[i].Addr, smp.Quality, smp.Err)
		}
	}
}

func (s Suite) testCloseTwice(t *testing.T) {
	dev, addrs := s.open(t, s.Open)
	s.mustRead(t, dev, addrs)
	if err := s.close(t, dev); err != nil {
		t.Errorf("first Close: %v", err)
	}
	if err := s.close(t, dev); err != nil {
		t.Errorf("second Close: %v, want nil (Close is idempotent)", err)
	}
}

func (s Suite) testReadAfterClose(t *testing.T) {
	dev, addrs := s.open(t, s.Open)
	var batch drivers.Batch
	if p, ok := dev.(drivers.Preparer); ok {
		b, err := p.Prepare(addrs)
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		batch = b
	}
	s.mustRead(t, dev, addrs)
	if err := s.close(t, dev); err != nil {
		t.Errorf("Close: %v", err)
	}
	out := fill(len(addrs))
	if err := s.call(t, "Read after Close", func() error {
		return dev.Read(context.Background(), addrs, out)
	}); err == nil {
		t.Error("Read after Close returned nil, want an error")
	}
	if batch != nil {
		if err := s.call(t, "Batch.Read after Close", func() error {
			return batch.Read(context.Background(), out)
		}); err == nil {
			t.Error("Batch.Read after Close returned nil, want an error")
		}
	}
	if w, ok := dev.(drivers.Writer); ok && len(s.Writes) > 0 {
		wr := s.Writes[0]
		if err := s.call(t, "Write after Close", func() error {
			return w.Write(context.Background(), wr.Addr, wr.Value)
		}); err == nil {
			t.Error("Write after Close returned nil, want an error")
		}
	}
}
