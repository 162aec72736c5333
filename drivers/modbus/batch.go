package modbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagbridge/tagbridge/drivers"
)

var (
	_ drivers.Batch   = (*Batch)(nil)
	_ drivers.Planner = (*Batch)(nil)
)

// Batch is a prepared read: the addresses parsed once and merged into wire
// requests. When a merged request gets exception 2 (illegal data address),
// Read splits it until the bad points stand alone and keeps the split for
// later scans, so a hole in the device's map costs its requests once.
type Batch struct {
	dev  *Device
	tags []string  // per address: its tag, for Requests (the addresses themselves are not kept)
	bad  []error   // per address: why it cannot be read; nil when every address parsed
	reqs []Request // Item.Index indexes addrs

	// Scratch reused by every Read (a Batch is used by one goroutine at a
	// time): a scan of a planned, answering device allocates nothing here.
	set  []bool    // out[i] written in this read
	next []Request // the plan after this read (splits after exception 2)
}

// Prepare parses addrs and plans their requests. It does no I/O. An
// address that does not parse does not fail the batch: it reads as
// BadConfigurationError with the reason (validate reports it before start).
func (d *Device) Prepare(addrs []drivers.Address) (drivers.Batch, error) {
	b := &Batch{dev: d, tags: make([]string, len(addrs))}
	pts := make([]Point, 0, len(addrs))
	idx := make([]int, 0, len(addrs))
	for i, a := range addrs {
		b.tags[i] = a.Tag
		p, err := ParsePoint(a, d.opt.order)
		if err != nil {
			if b.bad == nil {
				b.bad = make([]error, len(addrs))
			}
			b.bad[i] = pointError(drivers.BadConfigurationError, fmt.Errorf("modbus %s: tag %q: %w", d.name, a.Tag, err))
			continue
		}
		pts = append(pts, p)
		idx = append(idx, i)
	}
	b.reqs = Plan(d.opt.unit, pts, d.opt.limits)
	for _, r := range b.reqs {
		for k := range r.Items {
			r.Items[k].Index = idx[r.Items[k].Index]
		}
	}
	return b, nil
}

// Requests describes the wire requests of one scan, for `tagbridge plan`.
// After an exception-2 split it shows the split requests.
func (b *Batch) Requests() []drivers.Request {
	out := make([]drivers.Request, 0, len(b.reqs))
	for _, r := range b.reqs {
		tags := make([]string, 0, len(r.Items))
		for _, it := range r.Items {
			tags = append(tags, b.tags[it.Index])
		}
		out = append(out, drivers.Request{
			Unit: int(r.Unit), Function: fmt.Sprintf("fc%d", r.Function()),
			Start: int(r.Start), Count: int(r.Count), Tags: tags,
		})
	}
	return out
}

// readState is the progress of one Batch.Read.
type readState struct {
	out      []drivers.Sample
	set      []bool // out[i] written in this read
	answered bool   // the device answered at least one request
}

// Read runs the plan. Samples carry the time of the reply. A request the
// device refuses with an exception makes its points Bad (exception 2 and 1:
// BadConfigurationError; 10, 11: BadCommunicationError; others:
// BadDeviceFailure); the rest stay Good and Read returns nil. When the
// device does not answer, the remaining requests are not sent (a dead device
// costs one timeout per scan), every unread point is BadCommunicationError,
// and Read returns the error if nothing was answered — wrapping
// drivers.ErrBadConn after timeouts_before_reconnect such scans in a row, or
// at once when the connection was lost.
func (b *Batch) Read(ctx context.Context, out []drivers.Sample) error {
	d := b.dev
	if d.closed {
		return fmt.Errorf("modbus %s: read: %w", d.name, errClosed)
	}
	if len(out) != len(b.tags) {
		return fmt.Errorf("modbus %s: read: %d result slots for %d addresses", d.name, len(out), len(b.tags))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("modbus %s: read: %w", d.name, err)
	}
	if cap(b.set) < len(out) {
		b.set = make([]bool, len(out))
	}
	b.set = b.set[:len(out)]
	clear(b.set)
	st := &readState{out: out, set: b.set}
	for i, err := range b.bad {
		if err != nil {
			out[i] = drivers.Sample{Quality: drivers.BadConfigurationError, Err: err}
			st.set[i] = true
		}
	}
	var batchErr error
	next := b.next[:0]
	for _, r := range b.reqs {
		if batchErr != nil {
			next = append(next, r)
			continue
		}
		next, batchErr = b.exec(ctx, r, st, 0, next)
	}
	// Swap the buffers: the old plan is the next Read's scratch.
	b.reqs, b.next = next, b.reqs
	clear(b.next) // drop the old plan's references to its Items
	if batchErr == nil {
		d.timeouts = 0
		return nil
	}
	q := qualityOf(batchErr)
	for i := range out {
		if !st.set[i] {
			out[i] = drivers.Sample{Quality: q, Err: pointError(q, batchErr)}
		}
	}
	switch classify(batchErr) {
	case classCanceled, classConn:
		return batchErr
	case classTimeout, classFrame:
		if st.answered {
			d.timeouts = 0
			return nil
		}
		d.timeouts++
		if d.timeouts >= d.opt.timeoutsBeforeReconnect {
			n := d.timeouts
			d.timeouts = 0
			return fmt.Errorf("%w (%d scans in a row without a reply): %w", drivers.ErrBadConn, n, batchErr)
		}
	}
	if st.answered {
		return nil
	}
	return batchErr
}

// exec runs one request and appends to plan what should replace it:
// itself, or the pieces it was split into after exception 2. The error is
// a transport failure (timeout, bad frame, lost connection, cancelled): the
// caller stops the scan there.
func (b *Batch) exec(ctx context.Context, r Request, st *readState, depth int, plan []Request) ([]Request, error) {
	d := b.dev
	words, at, err := d.read(ctx, r)
	if err == nil {
		st.answered = true
		for _, it := range r.Items {
			st.set[it.Index] = true
			v, derr := DecodeRegisters(it.Point, r.Words(words, it))
			if derr != nil {
				st.out[it.Index] = drivers.Sample{Quality: drivers.BadConfigurationError, Time: at,
					Err: pointError(drivers.BadConfigurationError, fmt.Errorf("modbus %s: %w", d.name, derr))}
				continue
			}
			st.out[it.Index] = drivers.Sample{Value: v, Quality: drivers.Good, Time: at}
		}
		return append(plan, r), nil
	}
	werr := fmt.Errorf("modbus %s: %s:%d x%d (fc%d): %w", d.name, r.Table, r.Start, r.Count, r.Function(), err)
	var exc Exception
	short := errors.Is(err, errShortReply)
	if !errors.As(err, &exc) && !short {
		return append(plan, r), werr
	}
	st.answered = true
	// A reply that does not match the request (short, empty, wrong
	// function code) is isolated like exception 2: such servers often
	// have fewer registers than asked for. The points it cannot serve get
	// BadCommunicationError; the scan goes on and the link stays open.
	// depth bounds the recursion whatever Split does: each round halves
	// the items, so 32 rounds is far more than any request holds.
	if (short || exc.Code == 2) && len(r.Items) > 1 && depth < 32 {
		if halves := Split(r); len(halves) > 1 {
			for i, h := range halves {
				var herr error
				if plan, herr = b.exec(ctx, h, st, depth+1, plan); herr != nil {
					return append(plan, halves[i+1:]...), herr
				}
			}
			return plan, nil
		}
	}
	q := exc.Quality()
	if short {
		q = drivers.BadCommunicationError
	}
	for _, it := range r.Items {
		st.set[it.Index] = true
		st.out[it.Index] = drivers.Sample{Quality: q, Err: pointError(q, werr)}
	}
	return append(plan, r), nil
}
