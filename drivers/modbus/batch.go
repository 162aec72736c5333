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
	dev   *Device
	addrs []drivers.Address
	bad   []error   // per address: why it cannot be read (nil = planned)
	reqs  []Request // Item.Index indexes addrs
}

// Prepare parses addrs and plans their requests. It does no I/O. An
// address that does not parse does not fail the batch: it reads as
// BadConfigurationError with the reason (validate reports it before start).
func (d *Device) Prepare(addrs []drivers.Address) (drivers.Batch, error) {
	b := &Batch{dev: d, addrs: addrs, bad: make([]error, len(addrs))}
	pts := make([]Point, 0, len(addrs))
	idx := make([]int, 0, len(addrs))
	for i, a := range addrs {
		p, err := ParsePoint(a, d.opt.order)
		if err != nil {
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
			tags = append(tags, b.addrs[it.Index].Tag)
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
	if len(out) != len(b.addrs) {
		return fmt.Errorf("modbus %s: read: %d result slots for %d addresses", d.name, len(out), len(b.addrs))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("modbus %s: read: %w", d.name, err)
	}
	st := &readState{out: out, set: make([]bool, len(out))}
	for i, err := range b.bad {
		if err != nil {
			out[i] = drivers.Sample{Quality: drivers.BadConfigurationError, Err: err}
			st.set[i] = true
		}
	}
	var batchErr error
	next := make([]Request, 0, len(b.reqs))
	for _, r := range b.reqs {
		if batchErr != nil {
			next = append(next, r)
			continue
		}
		got, err := b.exec(ctx, r, st, 0)
		next = append(next, got...)
		batchErr = err
	}
	b.reqs = next
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

// exec runs one request and returns what should replace it in the plan:
// itself, or the pieces it was split into after exception 2. The error is
// a transport failure (timeout, bad frame, lost connection, cancelled): the
// caller stops the scan there.
func (b *Batch) exec(ctx context.Context, r Request, st *readState, depth int) ([]Request, error) {
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
		return []Request{r}, nil
	}
	werr := fmt.Errorf("modbus %s: %s:%d x%d (fc%d): %w", d.name, r.Table, r.Start, r.Count, r.Function(), err)
	var exc Exception
	short := errors.Is(err, errShortReply)
	if !errors.As(err, &exc) && !short {
		return []Request{r}, werr
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
			var res []Request
			for i, h := range halves {
				got, herr := b.exec(ctx, h, st, depth+1)
				res = append(res, got...)
				if herr != nil {
					return append(res, halves[i+1:]...), herr
				}
			}
			return res, nil
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
	return []Request{r}, nil
}
