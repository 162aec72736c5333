package modbus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A prepared read (Batch.Read) runs on the link goroutine as one job rather
// than one job per request: handing every request to the link goroutine and
// back cost two goroutine wake-ups and a closure, a job and a channel per
// request, which on a fast network was a third of a scan (see docs/modbus.md,
// Benchmarks). The link still serves the queue between the scan's requests
// (queued writes go first, a closed link or a gone caller stops the scan) and
// settles each transaction on its own (timeouts, unit backoff, quiet time),
// exactly as when each request was a job.

// scanner is a read that runs many transactions as one job. scan runs on the
// link goroutine with the job's mu held; it reaches the wire only through
// t.read, which releases mu around each transaction.
type scanner interface {
	scan(t scanLink) error
}

// scanLink is what a scanner gets to put requests on the wire.
type scanLink struct {
	a *arbiter
	j *job
}

// errAbandoned stops a scan whose caller returned (its ctx ended) while the
// scan ran: the caller's results are no longer the scan's to write.
var errAbandoned = errors.New("scan abandoned by its caller")

// read runs one read request and returns its words (bits as 0/1 words, in
// a buffer reused by the next read) and the time of the reply. Before the
// request it serves the writes queued meanwhile and waits out the quiet
// time; it stops the scan when the link closes or the caller has gone.
func (t scanLink) read(r Request) ([]uint16, time.Time, error) {
	a, j := t.a, t.j
	j.mu.Unlock()
	words, at, err := a.scanRead(j, r)
	j.mu.Lock()
	if j.abandoned {
		return nil, time.Time{}, errAbandoned
	}
	return words, at, err
}

// scanRead is read without the job's lock: it touches only the link and
// the job's scratch, never the caller's memory.
func (a *arbiter) scanRead(j *job, r Request) ([]uint16, time.Time, error) {
	if err := a.between(j); err != nil {
		return nil, time.Time{}, err
	}
	if err := a.begin(j); err != nil {
		return nil, time.Time{}, err
	}
	ctx, l, fc := j.ctx, a.conn, r.Function()
	var words []uint16
	var err error
	if r.Table.IsBits() {
		var bits []bool
		if bits, err = l.readBits(ctx, r.Unit, fc, r.Start, r.Count); err == nil {
			j.scratch = j.scratch[:0]
			for _, on := range bits {
				j.scratch = append(j.scratch, b2w(on))
			}
			words = j.scratch
		}
	} else {
		words, err = l.readRegisters(ctx, r.Unit, fc, r.Start, r.Count)
	}
	at := time.Now()
	if err == nil && len(words) != int(r.Count) {
		err = fmt.Errorf("%w: %d values for %d requested", errShortReply, len(words), r.Count)
	}
	if err = a.end(j, err); err != nil {
		return nil, time.Time{}, err
	}
	return words, at, nil
}

func b2w(on bool) uint16 {
	if on {
		return 1
	}
	return 0
}

// between runs before each request of a scan: the writes queued since the
// last transaction go first (each after the quiet time), then the scan's own
// quiet time. It fails when the link is shutting down or the caller's ctx
// has ended, so the rest of the scan never reaches the wire.
func (a *arbiter) between(j *job) error {
	for {
		if !a.quiet(j.ctx) {
			break
		}
		w := a.nextWrite()
		if w == nil {
			break
		}
		w.done <- a.serve(w)
	}
	select {
	case <-a.stop:
		return fmt.Errorf("link %s: %w", a.key, errLinkClosed)
	default:
	}
	return j.ctx.Err()
}

// nextWrite pops the oldest queued write, if any.
func (a *arbiter) nextWrite() *job {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.writes) == 0 {
		return nil
	}
	j := a.writes[0]
	a.writes = a.writes[1:]
	return j
}

// serveScan runs a scan job, unless its caller has already gone.
func (a *arbiter) serveScan(j *job) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.abandoned || j.ctx.Err() != nil {
		a.count(func(s *LinkStat) { s.Dropped++ })
		if err := j.ctx.Err(); err != nil {
			return err
		}
		return errAbandoned
	}
	return j.scan.scan(scanLink{a: a, j: j})
}

// doScan queues j (a scan job, see newScanJob) and waits for it. When ctx
// ends first it returns at once with abandoned true: the scan stops at its
// next request and no longer writes the caller's memory, but it may still
// hold j, so the caller must not queue j again.
func (a *arbiter) doScan(ctx context.Context, j *job) (abandoned bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	j.ctx = ctx
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false, fmt.Errorf("link %s: %w", a.key, errLinkClosed)
	}
	a.polls = append(a.polls, j)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-j.done:
		j.ctx = nil // do not keep the caller's context alive between scans
		return false, err
	case <-ctx.Done():
		j.mu.Lock()
		j.abandoned = true
		j.mu.Unlock()
		return true, ctx.Err()
	}
}

// newScanJob returns a job that runs s for unit with the device's options.
// One job serves every scan of a Batch until a scan is abandoned.
func newScanJob(unit uint8, o jobOpts, s scanner) *job {
	return &job{unit: unit, opts: o, scan: s, done: make(chan error, 1)}
}
