package modbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagbridge/tagbridge/drivers"
)

var (
	_ drivers.Device   = (*Device)(nil)
	_ drivers.Writer   = (*Device)(nil)
	_ drivers.Preparer = (*Device)(nil)
	_ drivers.Checker  = (*Device)(nil)
)

// Device is one configured Modbus device: a unit id on a link. Like every
// drivers.Device it is used from one goroutine at a time (the scheduler's);
// the link it shares with other devices serialises their requests.
type Device struct {
	drv    *Driver
	name   string
	opt    options
	arb    *arbiter
	closed bool
	// timeouts counts batches in a row that got no reply at all; at
	// timeouts_before_reconnect the batch error wraps drivers.ErrBadConn.
	timeouts int
}

// errClosed is returned by every call on a closed device.
var errClosed = errors.New("device closed")

// Close detaches the device from its link (the last device closes the link,
// waiting for a transaction in progress). It is idempotent.
func (d *Device) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	d.drv.release(d)
	return nil
}

// Check validates one address without I/O (syntax, type, length, range).
func (d *Device) Check(a drivers.Address) error {
	if _, err := ParsePoint(a, d.opt.order); err != nil {
		return fmt.Errorf("modbus %s: tag %q: %w", d.name, a.Tag, err)
	}
	return nil
}

// Read plans addrs on the fly and reads them. The scheduler prepares a
// Batch instead (Prepare), which also remembers exception-2 splits.
func (d *Device) Read(ctx context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	b, err := d.Prepare(addrs)
	if err != nil {
		return err
	}
	return b.Read(ctx, out)
}

func (d *Device) jobOpts() jobOpts {
	return jobOpts{delay: d.opt.delay, timeoutsBeforeReconnect: d.opt.timeoutsBeforeReconnect}
}

// Write writes one value: v is in the Go type of a.Type. Coils use FC5 (FC15
// with force_multiple_writes); registers FC6 for one register (FC16 when
// forced) and FC16 for more; a register bit (hr:10.3) is a read-modify-write
// that the link runs as one job, so no other request to the device comes
// between the read and the write. Errors are *drivers.QualityError; a lost
// connection also wraps drivers.ErrBadConn.
func (d *Device) Write(ctx context.Context, a drivers.Address, v any) error {
	if d.closed {
		return fmt.Errorf("modbus %s: write %q: %w", d.name, a.Addr, errClosed)
	}
	p, err := ParsePoint(a, d.opt.order)
	if err != nil {
		return pointError(drivers.BadConfigurationError, fmt.Errorf("modbus %s: write tag %q: %w", d.name, a.Tag, err))
	}
	desc := fmt.Sprintf("%s:%d", p.Table, p.Addr)
	if p.Bit >= 0 {
		desc += fmt.Sprintf(".%d", p.Bit)
	}
	if !p.Table.Writable() {
		return pointError(drivers.BadNotWritable, fmt.Errorf("modbus %s: write %s: %s is read-only", d.name, desc, tableLong(p.Table)))
	}
	unit, force := d.opt.unit, d.opt.forceMulti
	var fc uint8
	var run func(ctx context.Context, l link) error
	mismatch := func() error {
		return pointError(drivers.BadTypeMismatch, fmt.Errorf("modbus %s: write %s: want a %s value, got %T", d.name, desc, p.Type, v))
	}
	switch {
	case p.Table == Coils:
		on, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		fc = pick(force, 15, 5)
		run = func(ctx context.Context, l link) error { return l.writeBits(ctx, unit, fc, p.Addr, []bool{on}) }
	case p.Bit >= 0:
		on, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		fc = pick(force, 16, 6)
		run = func(ctx context.Context, l link) error {
			w, err := l.readRegisters(ctx, unit, 3, p.Addr, 1)
			if err != nil {
				return fmt.Errorf("read before setting bit %d (fc3): %w", p.Bit, err)
			}
			if len(w) != 1 {
				return fmt.Errorf("%w: %d registers for 1 requested", errFrame, len(w))
			}
			return l.writeRegisters(ctx, unit, fc, p.Addr, []uint16{SetBit(w[0], p.Bit, on)})
		}
	default:
		if !p.Type.Holds(v) {
			return mismatch()
		}
		words, err := EncodeRegisters(p, v)
		if err != nil {
			return pointError(drivers.BadOutOfRange, fmt.Errorf("modbus %s: write %s: %w", d.name, desc, err))
		}
		fc = pick(force || len(words) > 1, 16, 6)
		desc += fmt.Sprintf(" x%d", len(words))
		run = func(ctx context.Context, l link) error { return l.writeRegisters(ctx, unit, fc, p.Addr, words) }
	}
	if err := d.arb.do(ctx, unit, true, d.jobOpts(), run); err != nil {
		werr := fmt.Errorf("modbus %s: write %s (fc%d): %w", d.name, desc, fc, err)
		if isCanceled(err) {
			return werr
		}
		return pointError(qualityOf(err), werr)
	}
	return nil
}

func pick(cond bool, yes, no uint8) uint8 {
	if cond {
		return yes
	}
	return no
}
