package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// readN reads a batch n times and reports which reads failed.
func readN(t *testing.T, dev drivers.Device, n int) []error {
	t.Helper()
	addrs := []drivers.Address{{Tag: "a", Addr: "const:1", Type: drivers.Int16}}
	out := make([]drivers.Sample, 1)
	errs := make([]error, n)
	for i := range errs {
		errs[i] = dev.Read(context.Background(), addrs, out)
	}
	return errs
}

func TestFailEvery(t *testing.T) {
	t.Parallel()
	dev := openTest(t, map[string]any{"fail_every": 3}, nil)
	for i, err := range readN(t, dev, 10) {
		n := i + 1
		if n%3 == 0 {
			if !errors.Is(err, drivers.ErrBadConn) {
				t.Errorf("read %d: err %v, want one wrapping ErrBadConn", n, err)
			} else if !strings.Contains(err.Error(), "sim sim1: read") || !strings.Contains(err.Error(), "fail_every") {
				t.Errorf("read %d: error %q does not say who and why", n, err)
			}
		} else if err != nil {
			t.Errorf("read %d: %v, want success", n, err)
		}
	}
}

func TestFailEveryCountsBatchReads(t *testing.T) {
	t.Parallel()
	dev := openTest(t, map[string]any{"fail_every": 2}, nil)
	b, err := dev.(drivers.Preparer).Prepare([]drivers.Address{{Addr: "sine", Type: drivers.Float64}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]drivers.Sample, 1)
	if err := b.Read(context.Background(), out); err != nil {
		t.Fatalf("batch read 1: %v", err)
	}
	if err := b.Read(context.Background(), out); !errors.Is(err, drivers.ErrBadConn) {
		t.Fatalf("batch read 2: %v, want ErrBadConn", err)
	}
}

func TestDisconnectAfter(t *testing.T) {
	t.Parallel()
	var drv Driver
	opts := map[string]any{"disconnect_after": 2}
	dev, err := drv.Open(context.Background(), "sim1", opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range readN(t, dev, 6) {
		if i < 2 && err != nil {
			t.Errorf("read %d: %v, want success", i+1, err)
		}
		if i >= 2 && !errors.Is(err, drivers.ErrBadConn) {
			t.Errorf("read %d: %v, want ErrBadConn", i+1, err)
		}
	}
	a := drivers.Address{Addr: "memory:int16", Type: drivers.Int16}
	if err := dev.(drivers.Writer).Write(context.Background(), a, int16(1)); !errors.Is(err, drivers.ErrBadConn) {
		t.Errorf("Write while disconnected: %v, want ErrBadConn", err)
	}
	// What the scheduler does on ErrBadConn: close, open again.
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	dev, err = drv.Open(context.Background(), "sim1", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for i, err := range readN(t, dev, 3) {
		if (i < 2) != (err == nil) {
			t.Errorf("after reopening, read %d: %v", i+1, err)
		}
	}
}

func TestLatencyCancel(t *testing.T) {
	t.Parallel()
	dev := openTest(t, map[string]any{"latency": "1h"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	out := make([]drivers.Sample, 1)
	err := dev.Read(ctx, []drivers.Address{{Addr: "sine", Type: drivers.Float64}}, out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = dev.(drivers.Writer).Write(ctx, drivers.Address{Addr: "memory:bool", Type: drivers.Bool}, true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write: %v, want context.DeadlineExceeded", err)
	}
}

func TestLatencyCancelledReadsDoNotCount(t *testing.T) {
	t.Parallel()
	dev := openTest(t, map[string]any{"latency": "1ms", "fail_every": 2}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := make([]drivers.Sample, 1)
	addrs := []drivers.Address{{Addr: "const:1", Type: drivers.Int16}}
	for range 3 {
		if err := dev.Read(ctx, addrs, out); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Read: %v", err)
		}
	}
	if err := dev.Read(context.Background(), addrs, out); err != nil {
		t.Fatalf("first real read after cancelled ones: %v (cancelled reads must not count for fail_every)", err)
	}
	if err := dev.Read(context.Background(), addrs, out); !errors.Is(err, drivers.ErrBadConn) {
		t.Fatalf("second real read: %v, want ErrBadConn", err)
	}
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts map[string]any
		want string // "" = valid
	}{
		{"nil", nil, ""},
		{"all", map[string]any{"seed": 42, "fail_every": 5, "latency": "10ms", "disconnect_after": 100, "nan": "keep"}, ""},
		{"int kinds", map[string]any{"seed": int64(-3), "fail_every": uint16(2), "disconnect_after": 3.0}, ""},
		{"string int", map[string]any{"seed": "12"}, ""},
		{"duration", map[string]any{"latency": 5 * time.Millisecond}, ""},
		{"nan case", map[string]any{"nan": "ZERO"}, ""},
		{"unknown", map[string]any{"seeed": 1}, `sim sim1: option "seeed": unknown option (known: seed, fail_every, latency, disconnect_after, nan)`},
		{"two unknown", map[string]any{"b": 1, "a": 1}, "sim sim1: option \"a\": unknown option (known: seed, fail_every, latency, disconnect_after, nan)\noption \"b\": unknown option"},
		{"seed float", map[string]any{"seed": 1.5}, `sim sim1: option "seed": want an integer, got float64 1.5`},
		{"seed string", map[string]any{"seed": "x"}, `option "seed": want an integer, got "x"`},
		{"seed bool", map[string]any{"seed": true}, `option "seed": want an integer, got bool true`},
		{"seed huge", map[string]any{"seed": uint64(1 << 63)}, `option "seed": want an integer, got uint64 9223372036854775808`},
		{"negative", map[string]any{"fail_every": -1}, `option "fail_every": -1 must be >= 0 (0 = off)`},
		{"latency number", map[string]any{"latency": 100}, `option "latency": want a duration like 100ms or 2s, got int 100`},
		{"latency bad", map[string]any{"latency": "soon"}, `option "latency": want a duration like 100ms or 2s, got "soon"`},
		{"latency negative", map[string]any{"latency": "-1s"}, `option "latency": -1s is below the minimum 0s`},
		{"nan", map[string]any{"nan": "drop"}, `option "nan": want bad, zero or keep, got "drop"`},
		{"nan type", map[string]any{"nan": 1}, `option "nan": want a string, got int 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dev, err := Driver{}.Open(context.Background(), "sim1", tt.opts)
			if dev != nil {
				defer dev.Close()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Open: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("Open = nil error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Open error\n got %q\nwant it to contain %q", err, tt.want)
			}
			if err != nil && dev != nil {
				t.Error("Open returned a device with an error")
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	t.Parallel()
	d, err := drivers.Lookup("sim")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(Driver); !ok {
		t.Errorf("drivers.Lookup(\"sim\") = %T, want sim.Driver", d)
	}
}
