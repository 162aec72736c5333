package drivertest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/drivertest"
)

// bugs switches on one contract violation each, for broken_test.go.
type bugs struct {
	skipSlot    bool // leaves the last out slot untouched
	wrongType   bool // returns int for every value
	batchError  bool // fails the batch on a bad point
	closeTwice  bool // second Close returns an error
	panicClosed bool // Read after Close panics
	ignoreCtx   bool // reads with a done ctx succeed; slow reads ignore ctx
	leak        bool // starts a goroutine that Close does not stop
	lostWrite   bool // Write succeeds but the value is not stored
	noTime      bool // Good samples without a Time
	staleValue  bool // Bad samples keep out's old Value
}

// fake is a minimal in-memory device: "v:<n>" reads n as int32, "bad"
// reads BadDeviceFailure, "slow" blocks until ctx is done.
type fake struct {
	bugs   bugs
	closed bool
	mem    map[string]int32
	stop   chan struct{}
}

func (f *fake) Read(ctx context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	if f.closed {
		if f.bugs.panicClosed {
			panic("read after close")
		}
		return fmt.Errorf("fake: closed: %w", drivers.ErrBadConn)
	}
	if err := ctx.Err(); err != nil && !f.bugs.ignoreCtx {
		return fmt.Errorf("fake: read: %w", err)
	}
	for i, a := range addrs {
		if f.bugs.skipSlot && i == len(addrs)-1 {
			continue
		}
		now := time.Now()
		if f.bugs.noTime {
			now = time.Time{}
		}
		switch {
		case a.Addr == "bad":
			if f.bugs.batchError {
				return errors.New("fake: bad point")
			}
			q := drivers.BadDeviceFailure
			if f.bugs.staleValue {
				out[i].Quality, out[i].Err = q, errors.New("fake: bad")
				continue
			}
			out[i] = drivers.Sample{Quality: q, Err: errors.New("fake: bad"), Time: now}
		case a.Addr == "slow":
			t := time.NewTimer(time.Minute)
			if f.bugs.ignoreCtx {
				<-t.C
			} else {
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("fake: slow read: %w", ctx.Err())
				case <-t.C:
				}
			}
		default:
			var v any = f.mem[a.Addr]
			if f.bugs.wrongType {
				v = int(f.mem[a.Addr])
			}
			out[i] = drivers.Sample{Value: v, Quality: drivers.Good, Time: now}
		}
	}
	return nil
}

func (f *fake) Write(ctx context.Context, a drivers.Address, v any) error {
	if f.closed {
		return fmt.Errorf("fake: closed: %w", drivers.ErrBadConn)
	}
	n, ok := v.(int32)
	if !ok || a.Addr == "ro" {
		return &drivers.QualityError{Quality: drivers.BadNotWritable, Err: errors.New("fake: not writable")}
	}
	if !f.bugs.lostWrite {
		f.mem[a.Addr] = n
	}
	return nil
}

func (f *fake) Close() error {
	if f.closed && f.bugs.closeTwice {
		return errors.New("fake: already closed")
	}
	if !f.closed && f.stop != nil {
		close(f.stop)
	}
	f.closed = true
	return nil
}

func suiteFor(b bugs) drivertest.Suite {
	open := func(addrs ...string) drivertest.OpenFunc {
		return func(t *testing.T) (drivers.Device, []drivers.Address) {
			f := &fake{bugs: b, mem: map[string]int32{"a": 1, "b": 2}}
			if !b.leak {
				f.stop = make(chan struct{})
				go func() { <-f.stop }() // a well-behaved background goroutine
			} else {
				go func() { select {} }()
			}
			var as []drivers.Address
			for _, s := range addrs {
				as = append(as, drivers.Address{Addr: s, Type: drivers.Int32})
			}
			return f, as
		}
	}
	return drivertest.Suite{
		Open:     open("a", "b"),
		Bad:      []drivers.Address{{Addr: "bad", Type: drivers.Int32}},
		Writes:   []drivertest.Write{{Addr: drivers.Address{Addr: "w", Type: drivers.Int32}, Value: int32(9)}},
		ReadOnly: []drivers.Address{{Addr: "ro", Type: drivers.Int32}},
		OpenSlow: open("slow"),
	}
}

// TestFakePasses runs the suite over a correct device without Preparer,
// the path a driver without planning takes.
func TestFakePasses(t *testing.T) {
	suiteFor(bugs{}).Run(t)
}
