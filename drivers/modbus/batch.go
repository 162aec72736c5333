package modbus

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	st   readState // the read in progress
	job  *job      // the link job that runs every read; nil after an abandoned read
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

// readState is the progress of one Batch.Read. The link goroutine fills
// it (under the job's lock, see scan.go); the caller turns it into Samples.
type readState struct {
	answered bool      // the device answered at least one request
	next     []Request // the plan after this read
	err      error     // the transport error that stopped the scan
	replies  []reply   // per request that got an answer, in wire order
	words    []uint16  // the words of every reply, back to back
}

// reply is one answered request: its words (words[off:off+r.Count]) or the
// exception or short reply that makes its points Bad with q.
type reply struct {
	r   Request
	off int
	at  time.Time
	err error
	q   drivers.Quality
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
//
// The requests run back to back as one job on the link's goroutine
// (scan.go); the replies are decoded here, in the caller's goroutine, once
// the job is done. When ctx ends Read returns at once: the points already
// read keep their values, the others get the ctx error.
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
	for i, err := range b.bad {
		if err != nil {
			out[i] = drivers.Sample{Quality: drivers.BadConfigurationError, Err: err}
			b.set[i] = true
		}
	}
	if len(b.reqs) == 0 {
		return nil // every address is bad: nothing to send
	}
	if b.job == nil {
		b.job = newScanJob(d.opt.unit, d.jobOpts(), b)
	}
	st := &b.st
	clear(st.replies) // drop the last read's references to its Items
	*st = readState{next: b.next[:0], replies: st.replies[:0], words: st.words[:0]}
	abandoned, err := d.arb.doScan(ctx, b.job)
	var batchErr error
	switch {
	case abandoned:
		// The scan may still be running on the link goroutine with this
		// job: leave it the job and keep the plan. It writes nothing of
		// ours any more, and what it recorded so far is ours to decode
		// (doScan took the job's lock to abandon it).
		b.job = nil
		batchErr = fmt.Errorf("modbus %s: read: %w", d.name, err)
	case err != nil:
		// The job never ran (link closed, caller gone while queued): a
		// scan that runs reports through st.err.
		batchErr = fmt.Errorf("modbus %s: read: %w", d.name, err)
	default:
		// Swap the buffers: the old plan is the next Read's scratch.
		b.reqs, b.next = st.next, b.reqs
		clear(b.next) // drop the old plan's references to its Items
		batchErr = st.err
	}
	b.decode(out)
	if batchErr == nil {
		d.timeouts = 0
		return nil
	}
	q := qualityOf(batchErr)
	for i := range out {
		if !b.set[i] {
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

// decode turns the replies of the scan into Samples.
func (b *Batch) decode(out []drivers.Sample) {
	st := &b.st
	for _, rp := range st.replies {
		r := rp.r
		if rp.err != nil {
			for _, it := range r.Items {
				b.set[it.Index] = true
				out[it.Index] = drivers.Sample{Quality: rp.q, Err: pointError(rp.q, rp.err)}
			}
			continue
		}
		words := st.words[rp.off : rp.off+int(r.Count)]
		for k := range r.Items {
			it := &r.Items[k] // an Item is 64 bytes: do not copy 1000 of them per scan
			b.set[it.Index] = true
			v, ok := decodeFast(&it.Point, words, int(it.Point.Addr)-int(r.Start))
			if ok {
				out[it.Index] = drivers.Sample{Value: v, Quality: drivers.Good, Time: rp.at}
				continue
			}
			v, err := DecodeRegisters(it.Point, r.Words(words, *it))
			if err != nil {
				out[it.Index] = drivers.Sample{Quality: drivers.BadConfigurationError, Time: rp.at,
					Err: pointError(drivers.BadConfigurationError, fmt.Errorf("modbus %s: %w", b.dev.name, err))}
				continue
			}
			out[it.Index] = drivers.Sample{Value: v, Quality: drivers.Good, Time: rp.at}
		}
	}
}

// scan runs the plan on the link goroutine (scanner). It writes b.st only
// while the job's lock is held, i.e. never after the caller abandoned it.
func (b *Batch) scan(t scanLink) error {
	st := &b.st
	next := st.next
	var err error
	for k, r := range b.reqs {
		if next, err = b.exec(t, r, st, 0, next); err != nil {
			if errors.Is(err, errAbandoned) {
				return err
			}
			next = append(next, b.reqs[k+1:]...)
			break
		}
	}
	st.next, st.err = next, err
	return nil
}

// exec runs one request and appends to plan what should replace it:
// itself, or the pieces it was split into after exception 2. The error is
// a transport failure (timeout, bad frame, lost connection, cancelled): the
// caller stops the scan there.
func (b *Batch) exec(t scanLink, r Request, st *readState, depth int, plan []Request) ([]Request, error) {
	d := b.dev
	words, at, err := t.read(r)
	if errors.Is(err, errAbandoned) {
		return plan, err
	}
	if err == nil {
		st.answered = true
		st.replies = append(st.replies, reply{r: r, off: len(st.words), at: at})
		st.words = append(st.words, words...)
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
				if plan, herr = b.exec(t, h, st, depth+1, plan); herr != nil {
					if errors.Is(herr, errAbandoned) {
						return plan, herr
					}
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
	st.replies = append(st.replies, reply{r: r, err: werr, q: q})
	return append(plan, r), nil
}
