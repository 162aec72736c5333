package sim

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// device is one simulated device. The scheduler never calls it
// concurrently; the mutex only keeps a misbehaving caller from corrupting
// state, and is never held while sleeping.
type device struct {
	name  string
	opt   options
	now   func() time.Time
	start time.Time // waves are functions of now() - start

	mu     sync.Mutex
	closed bool
	reads  int64 // Reads that got past the latency, for fail_every and disconnect_after
	state  map[key]*state
}

var (
	_ drivers.Device   = (*device)(nil)
	_ drivers.Writer   = (*device)(nil)
	_ drivers.Preparer = (*device)(nil)
	_ drivers.Checker  = (*device)(nil)
)

// Read parses addrs on the fly; Prepare once and read the Batch to avoid it.
func (d *device) Read(ctx context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	if len(out) != len(addrs) {
		return fmt.Errorf("sim %s: read: %d addresses but %d out slots", d.name, len(addrs), len(out))
	}
	if err := d.begin(ctx, len(addrs)); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for i, a := range addrs {
		b := d.bind(a)
		out[i] = b.sample(d.name, now, now.Sub(d.start))
	}
	return nil
}

// begin runs the common part of every Read: refuse when closed or
// cancelled, sleep the latency, then count the read and inject faults.
func (d *device) begin(ctx context.Context, n int) error {
	if err := d.usable("read"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sim %s: read %d points: %w", d.name, n, err)
	}
	if err := d.sleep(ctx); err != nil {
		return fmt.Errorf("sim %s: read %d points: %w", d.name, n, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("sim %s: read: device is closed: %w", d.name, drivers.ErrBadConn)
	}
	d.reads++
	if da := d.opt.disconnectAfter; da > 0 && d.reads > da {
		return fmt.Errorf("sim %s: read %d: disconnected after %d reads (disconnect_after): %w", d.name, d.reads, da, drivers.ErrBadConn)
	}
	if fe := d.opt.failEvery; fe > 0 && d.reads%fe == 0 {
		return fmt.Errorf("sim %s: read %d: injected failure (fail_every %d): %w", d.name, d.reads, fe, drivers.ErrBadConn)
	}
	return nil
}

func (d *device) usable(op string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("sim %s: %s: device is closed: %w", d.name, op, drivers.ErrBadConn)
	}
	return nil
}

// sleep waits the configured latency, or until ctx is done.
func (d *device) sleep(ctx context.Context) error {
	if d.opt.latency <= 0 {
		return nil
	}
	t := time.NewTimer(d.opt.latency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bind parses and resolves a, and attaches its state. d.mu must be held.
func (d *device) bind(a drivers.Address) bound {
	p, err := parseAddress(a.Addr)
	if err == nil {
		err = p.resolve(a.Addr, a.Type)
	}
	if err != nil {
		return bound{a: a, err: err}
	}
	b := bound{a: a, p: p}
	switch p.kind {
	case kindRandom, kindCounter, kindMemory:
		k := key{tag: a.Tag, addr: a.Addr, typ: a.Type}
		st, ok := d.state[k]
		if !ok {
			st = newState(d.opt.seed, k, &p)
			d.state[k] = st
		}
		b.st = st
	}
	return b
}

// Write stores v in a memory point; every other kind is read-only.
func (d *device) Write(ctx context.Context, a drivers.Address, v any) error {
	if err := d.usable("write"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sim %s: write %q: %w", d.name, a.Addr, err)
	}
	if err := d.sleep(ctx); err != nil {
		return fmt.Errorf("sim %s: write %q: %w", d.name, a.Addr, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("sim %s: write: device is closed: %w", d.name, drivers.ErrBadConn)
	}
	if da := d.opt.disconnectAfter; da > 0 && d.reads >= da {
		return fmt.Errorf("sim %s: write %q: disconnected after %d reads (disconnect_after): %w", d.name, a.Addr, da, drivers.ErrBadConn)
	}
	b := d.bind(a)
	if b.err != nil {
		return &drivers.QualityError{Quality: drivers.BadConfigurationError, Err: b.err}
	}
	if b.p.kind != kindMemory {
		return &drivers.QualityError{Quality: drivers.BadNotWritable,
			Err: fmt.Errorf("sim %s: write %q: not writable (only memory:<type> addresses are)", d.name, a.Addr)}
	}
	val, q, err := coerce(v, a.Type)
	if err != nil {
		return &drivers.QualityError{Quality: q, Err: fmt.Errorf("sim %s: write %q: %w", d.name, a.Addr, err)}
	}
	b.st.mem = val
	return nil
}

// Prepare parses and resolves addrs once. An unusable address does not fail
// the batch: it reads as BadConfigurationError, like any per-point problem
// (`tagbridge validate` reports it earlier through Check).
func (d *device) Prepare(addrs []drivers.Address) (drivers.Batch, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("sim %s: prepare: device is closed: %w", d.name, drivers.ErrBadConn)
	}
	b := &batch{d: d, points: make([]bound, len(addrs))}
	for i, a := range addrs {
		b.points[i] = d.bind(a)
	}
	return b, nil
}

// Check validates a's syntax, its fit with a.Type, and that it carries no
// per-tag options (the simulator has none).
func (d *device) Check(a drivers.Address) error {
	p, err := parseAddress(a.Addr)
	if err != nil {
		return err
	}
	if err := p.resolve(a.Addr, a.Type); err != nil {
		return err
	}
	if len(a.Options) > 0 {
		keys := make([]string, 0, len(a.Options))
		for k := range a.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return fmt.Errorf("sim: address %q: unknown tag option %q (the sim driver has no tag options)", a.Addr, keys[0])
	}
	return nil
}

// Close is idempotent. Batches prepared on d fail once it is closed.
func (d *device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

// batch is a prepared read.
type batch struct {
	d      *device
	points []bound
}

var _ drivers.Batch = (*batch)(nil)

func (b *batch) Read(ctx context.Context, out []drivers.Sample) error {
	d := b.d
	if len(out) != len(b.points) {
		return fmt.Errorf("sim %s: read: %d prepared points but %d out slots", d.name, len(b.points), len(out))
	}
	if err := d.begin(ctx, len(out)); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for i := range b.points {
		out[i] = b.points[i].sample(d.name, now, now.Sub(d.start))
	}
	return nil
}
