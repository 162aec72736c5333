package drivertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/drivers"
)

func (s Suite) testCancelled(t *testing.T) {
	dev, addrs := s.open(t, s.Open)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := fill(len(addrs))
	err := s.call(t, "Read with a cancelled context", func() error { return dev.Read(ctx, addrs, out) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: err = %v, want an error wrapping context.Canceled", err)
	}
	if p, ok := dev.(drivers.Preparer); ok {
		b, perr := p.Prepare(addrs)
		if perr != nil {
			t.Fatalf("Prepare: %v", perr)
		}
		err := s.call(t, "Batch.Read with a cancelled context", func() error { return b.Read(ctx, out) })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Batch.Read with a cancelled context: err = %v, want an error wrapping context.Canceled", err)
		}
	}
	// A call refused because its context was already done must not break
	// the device for the next scan.
	for i, smp := range s.mustRead(t, dev, addrs) {
		checkSample(t, "read after a cancelled read", i, addrs[i], smp)
	}
}

func (s Suite) testCancelSlow(t *testing.T) {
	if s.OpenSlow == nil {
		t.Skip("drivertest: Suite.OpenSlow is nil")
	}
	dev, addrs := s.open(t, s.OpenSlow)
	if len(addrs) == 0 {
		t.Fatal("drivertest: OpenSlow returned no addresses")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel shortly after the Read started. Whether the driver is already
	// waiting on its peer when this fires or not, it must give up.
	timer := time.AfterFunc(20*time.Millisecond, cancel)
	defer timer.Stop()
	out := fill(len(addrs))
	err := s.call(t, "Read cancelled during a slow read", func() error { return dev.Read(ctx, addrs, out) })
	if err == nil {
		t.Fatal("slow Read returned nil after its context was cancelled; OpenSlow's device must be slower than the suite's cancel (20ms), and a cancelled Read must return an error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled slow Read: err = %v, want it to wrap context.Canceled so the scheduler can tell a shutdown from a device failure", err)
	}
}

func (s Suite) testPrepared(t *testing.T) {
	dev, addrs := s.open(t, s.Open)
	p, ok := dev.(drivers.Preparer)
	if !ok {
		t.Skip("device does not implement drivers.Preparer")
	}
	if s.Static != nil {
		addrs = s.Static
	}
	b, err := p.Prepare(addrs)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if b == nil {
		t.Fatal("Prepare returned a nil Batch and no error")
	}
	for round := range 2 {
		bout := fill(len(addrs))
		if err := s.call(t, "Batch.Read", func() error { return b.Read(context.Background(), bout) }); err != nil {
			t.Fatalf("Batch.Read: %v", err)
		}
		rout := s.mustRead(t, dev, addrs)
		for i := range addrs {
			checkSample(t, fmt.Sprintf("batch read %d", round), i, addrs[i], bout[i])
			if bout[i].Quality != rout[i].Quality || !reflect.DeepEqual(bout[i].Value, rout[i].Value) {
				t.Errorf("slot %d (%q): Batch.Read gave %v (%T %v), Read gave %v (%T %v)", i, addrs[i].Addr,
					bout[i].Quality, bout[i].Value, bout[i].Value, rout[i].Quality, rout[i].Value, rout[i].Value)
			}
		}
	}
}

func (s Suite) testWriteReadBack(t *testing.T) {
	dev, _ := s.open(t, s.Open)
	w, ok := dev.(drivers.Writer)
	switch {
	case !ok && len(s.Writes) > 0:
		t.Fatal("Suite.Writes is set but the device does not implement drivers.Writer")
	case !ok:
		t.Skip("device does not implement drivers.Writer")
	case len(s.Writes) == 0:
		t.Skip("drivertest: Suite.Writes is empty")
	}
	for _, wr := range s.Writes {
		if err := s.call(t, "Write", func() error { return w.Write(context.Background(), wr.Addr, wr.Value) }); err != nil {
			t.Errorf("Write(%q, %T %v): %v", wr.Addr.Addr, wr.Value, wr.Value, err)
			continue
		}
		out := s.mustRead(t, dev, []drivers.Address{wr.Addr})
		checkSample(t, "read-back", 0, wr.Addr, out[0])
		if !out[0].Quality.IsGood() || !reflect.DeepEqual(out[0].Value, wr.Value) {
			t.Errorf("after Write(%q, %T %v): read back %v %T %v (err %v)", wr.Addr.Addr, wr.Value, wr.Value,
				out[0].Quality, out[0].Value, out[0].Value, out[0].Err)
		}
		if p, ok := dev.(drivers.Preparer); ok {
			b, err := p.Prepare([]drivers.Address{wr.Addr})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			bout := fill(1)
			if err := s.call(t, "Batch.Read", func() error { return b.Read(context.Background(), bout) }); err != nil {
				t.Fatalf("Batch.Read: %v", err)
			}
			if !reflect.DeepEqual(bout[0].Value, wr.Value) {
				t.Errorf("after Write(%q, %v): Batch.Read gave %T %v", wr.Addr.Addr, wr.Value, bout[0].Value, bout[0].Value)
			}
		}
	}
}

func (s Suite) testWriteReadOnly(t *testing.T) {
	dev, _ := s.open(t, s.Open)
	w, ok := dev.(drivers.Writer)
	if !ok {
		t.Skip("device does not implement drivers.Writer")
	}
	if len(s.ReadOnly) == 0 {
		t.Skip("drivertest: Suite.ReadOnly is empty")
	}
	for _, a := range s.ReadOnly {
		err := s.call(t, "Write to a read-only address", func() error {
			return w.Write(context.Background(), a, a.Type.Zero())
		})
		if err == nil {
			t.Errorf("Write(%q) to a read-only address returned nil, want an error", a.Addr)
			continue
		}
		var qe *drivers.QualityError
		if !errors.As(err, &qe) {
			t.Logf("note: Write(%q) error %v is not a *drivers.QualityError (BadNotWritable is expected)", a.Addr, err)
		}
	}
}

// testNoLeak exercises every capability of a device in a nested subtest, so
// that the subtest's clean-ups (a per-open peer, say) have run, and then
// checks that no goroutine started since is still alive.
func (s Suite) testNoLeak(t *testing.T) {
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, s.LeakOptions...)
	t.Run("session", func(t *testing.T) {
		dev, addrs := s.open(t, s.Open)
		s.mustRead(t, dev, addrs)
		if p, ok := dev.(drivers.Preparer); ok {
			if b, err := p.Prepare(addrs); err == nil {
				out := fill(len(addrs))
				_ = s.call(t, "Batch.Read", func() error { return b.Read(context.Background(), out) })
			}
		}
		if w, ok := dev.(drivers.Writer); ok {
			for _, wr := range s.Writes {
				_ = s.call(t, "Write", func() error { return w.Write(context.Background(), wr.Addr, wr.Value) })
			}
		}
		s.mustRead(t, dev, addrs)
		if err := s.close(t, dev); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if s.OpenSlow != nil {
		t.Run("slow", func(t *testing.T) {
			dev, addrs := s.open(t, s.OpenSlow)
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(20*time.Millisecond, cancel)
			defer timer.Stop()
			out := fill(len(addrs))
			_ = s.call(t, "slow Read", func() error { return dev.Read(ctx, addrs, out) })
			cancel()
			if err := s.close(t, dev); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	goleak.VerifyNone(t, opts...)
}

// sentinel marks out slots before a Read, to catch slots a driver leaves
// with whatever the caller's buffer held.
type sentinel struct{}

const sentinelQuality drivers.Quality = 0xDEAD0000

var errSentinel = errors.New("drivertest: slot not written by the driver")

func fill(n int) []drivers.Sample {
	out := make([]drivers.Sample, n)
	for i := range out {
		out[i] = drivers.Sample{Value: sentinel{}, Quality: sentinelQuality, Err: errSentinel}
	}
	return out
}

// checkSample checks the per-slot contract of Device.Read.
func checkSample(t *testing.T, what string, i int, a drivers.Address, s drivers.Sample) {
	t.Helper()
	if s.Quality == sentinelQuality {
		t.Errorf("%s slot %d (%q): Quality not set", what, i, a.Addr)
	}
	if _, stale := s.Value.(sentinel); stale {
		t.Errorf("%s slot %d (%q): Value not set (left from the caller's buffer; use nil when there is no value)", what, i, a.Addr)
	}
	if s.Err == errSentinel {
		t.Errorf("%s slot %d (%q): Err not set (left from the caller's buffer; use nil when Good)", what, i, a.Addr)
	}
	if s.Quality.IsGood() {
		want := reflect.TypeOf(a.Type.Zero())
		if got := reflect.TypeOf(s.Value); got != want {
			t.Errorf("%s slot %d (%q): Good value %v has Go type %v, want %v for type %s", what, i, a.Addr, s.Value, got, want, a.Type)
		}
		if s.Time.IsZero() {
			t.Errorf("%s slot %d (%q): Good sample with a zero Time", what, i, a.Addr)
		}
	}
	if s.Quality.IsBad() && s.Quality != sentinelQuality && s.Err == nil {
		t.Errorf("%s slot %d (%q): quality %v without Err (say why)", what, i, a.Addr, s.Quality)
	}
}

func (s Suite) mustRead(t *testing.T, dev drivers.Device, addrs []drivers.Address) []drivers.Sample {
	t.Helper()
	out := fill(len(addrs))
	if err := s.call(t, "Read", func() error { return dev.Read(context.Background(), addrs, out) }); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

func (s Suite) close(t *testing.T, dev drivers.Device) error {
	t.Helper()
	return s.call(t, "Close", dev.Close)
}

// call runs f with a hang guard and turns a panic into a test failure. The
// driver is still called from one goroutine at a time.
func (s Suite) call(t *testing.T, what string, f func() error) error {
	t.Helper()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panic = recover()
			done <- r
		}()
		r.err = f()
	}()
	timer := time.NewTimer(s.Timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("%s panicked: %v", what, r.panic)
		}
		return r.err
	case <-timer.C:
		t.Fatalf("%s did not return within %v", what, s.Timeout)
		return nil
	}
}
