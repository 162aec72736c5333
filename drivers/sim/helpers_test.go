package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// clock is a settable clock for the waves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens a device with clk (nil: the real clock) and closes it at
// the end of the test.
func openTest(t testing.TB, opts map[string]any, clk *clock) drivers.Device {
	t.Helper()
	var drv Driver
	if clk != nil {
		drv.now = clk.Now
	}
	dev, err := drv.Open(context.Background(), "sim1", opts)
	if err != nil {
		t.Fatalf("Open(%v): %v", opts, err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	return dev
}

// read1 reads one address and fails the test on a batch error.
func read1(t testing.TB, dev drivers.Device, s string, typ drivers.Type) drivers.Sample {
	t.Helper()
	out := make([]drivers.Sample, 1)
	if err := dev.Read(context.Background(), []drivers.Address{{Tag: "t", Addr: s, Type: typ}}, out); err != nil {
		t.Fatalf("Read(%q): %v", s, err)
	}
	return out[0]
}
