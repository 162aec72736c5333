package poll

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// writeReq is one client write on its way to the device goroutine.
type writeReq struct {
	tag       *mapping.Tag
	raw       any
	deadline  time.Time
	abandoned atomic.Bool // the caller stopped waiting: do not write late
	reply     chan error  // cap 1: the device goroutine never blocks on it
}

func (w *writeReq) fail(q drivers.Quality, err error) {
	w.reply <- fmt.Errorf("poll: write %s: %w", w.tag.Path, qerr(q, err))
}

// Write writes the engineering value v to tag and returns after the device
// acknowledged it and the tag was read back into the store (read-after-
// write), or with an error that wraps a *drivers.QualityError:
//
//	BadNotWritable         read-only or status tag, or the device has no Writer
//	BadTypeMismatch,
//	BadOutOfRange          from tag.Encode
//	BadOutOfService        the device is demoted, stopped or not in the table (fails fast)
//	BadCommunicationError  the device is down (fails fast) or the write failed on the wire
//	BadTimeout             write_timeout or ctx expired before the device answered
//
// Other qualities a driver returns (e.g. BadDeviceFailure) pass through.
// The write is queued on the device goroutine and served ahead of polls.
// Write is safe for concurrent use; writes to one device are serialized.
func (s *Scheduler) Write(ctx context.Context, tag *mapping.Tag, v any) error {
	if tag == nil {
		return qerr(drivers.BadNotWritable, errors.New("poll: write: no tag"))
	}
	werr := func(q drivers.Quality, err error) error {
		s.met.WriteDone(tag.Device, q)
		return fmt.Errorf("poll: write %s: %w", tag.Path, qerr(q, err))
	}
	if tag.Status || tag.Access != mapping.ReadWrite {
		return werr(drivers.BadNotWritable, errors.New("tag is read-only"))
	}
	r := s.runner(tag.Device)
	if r == nil || r.stopped() {
		return werr(drivers.BadOutOfService, fmt.Errorf("device %q is not running", tag.Device))
	}
	raw, err := tag.Encode(v)
	if err != nil {
		return werr(qualityOrMismatch(err), err)
	}
	if err := ctx.Err(); err != nil {
		return werr(drivers.BadTimeout, err)
	}
	switch st := r.status(); st.State {
	case StateDemoted:
		return werr(drivers.BadOutOfService, fmt.Errorf("device %q is demoted: %s", r.name, st.LastError))
	case StateDown:
		return werr(drivers.BadCommunicationError, fmt.Errorf("device %q is down: %s", r.name, st.LastError))
	}
	deadline := time.Now().Add(r.set.writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	req := &writeReq{tag: tag, raw: raw, deadline: deadline, reply: make(chan error, 1)}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	timeout := func(cause error) error {
		req.abandoned.Store(true)
		return werr(drivers.BadTimeout, cause)
	}
	select {
	case r.writes <- req:
	case <-ctx.Done():
		return timeout(ctx.Err())
	case <-timer.C:
		return timeout(errors.New("write queue full until write_timeout"))
	case <-r.done:
		return werr(drivers.BadOutOfService, fmt.Errorf("device %q stopped", r.name))
	}
	select {
	case err := <-req.reply:
		return err // WriteDone was reported by the device goroutine
	case <-ctx.Done():
		return timeout(ctx.Err())
	case <-timer.C:
		return timeout(fmt.Errorf("no answer within write_timeout %s", r.set.writeTimeout))
	case <-r.done:
		return werr(drivers.BadOutOfService, fmt.Errorf("device %q stopped", r.name))
	}
}

// serveWrite performs one queued write and its read-back on the device
// goroutine. It returns an error only when the connection is lost
// (ErrBadConn), after answering the client.
func (r *runner) serveWrite(ctx context.Context, dev drivers.Device, w *writeReq) error {
	r.mu.Lock()
	r.st.Writes++
	r.mu.Unlock()
	reply := func(q drivers.Quality, err error) {
		r.s.met.WriteDone(r.name, q)
		if err == nil {
			w.reply <- nil
			return
		}
		w.fail(q, err)
	}
	if w.abandoned.Load() || !time.Now().Before(w.deadline) {
		reply(drivers.BadTimeout, errors.New("expired in the write queue"))
		return nil
	}
	wr, ok := dev.(drivers.Writer)
	if !ok {
		reply(drivers.BadNotWritable, fmt.Errorf("driver %q does not write", r.dev.Driver))
		return nil
	}
	wctx, cancel := context.WithDeadline(ctx, w.deadline)
	defer cancel()
	if err := wr.Write(wctx, w.tag.Addr, w.raw); err != nil {
		q := qualityOf(err)
		var qe *drivers.QualityError
		if wctx.Err() != nil && !errors.As(err, &qe) && !errors.Is(err, drivers.ErrBadConn) {
			q = drivers.BadTimeout // the driver's own timeout error, at our deadline
		}
		reply(q, err)
		if errors.Is(err, drivers.ErrBadConn) {
			return err
		}
		return nil
	}
	// Read-after-write: the client's next read shows what the device holds.
	var out [1]drivers.Sample
	err := dev.Read(wctx, []drivers.Address{w.tag.Addr}, out[:])
	if err == nil {
		w.tag.Publish(out[0], time.Now())
	} else {
		r.log.Debug("read-back after write failed", "tag", w.tag.Path, "err", err)
	}
	reply(drivers.Good, nil)
	if errors.Is(err, drivers.ErrBadConn) {
		return err
	}
	return nil
}

// qualityOf maps an error to the quality a client sees.
func qualityOf(err error) drivers.Quality {
	var qe *drivers.QualityError
	switch {
	case errors.As(err, &qe):
		return qe.Quality
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return drivers.BadTimeout
	}
	return drivers.BadCommunicationError
}

func qualityOrMismatch(err error) drivers.Quality {
	var qe *drivers.QualityError
	if errors.As(err, &qe) {
		return qe.Quality
	}
	return drivers.BadTypeMismatch
}

// qerr returns err if it already carries a QualityError, else wraps it in
// one with quality q.
func qerr(q drivers.Quality, err error) error {
	var qe *drivers.QualityError
	if errors.As(err, &qe) {
		return err
	}
	return &drivers.QualityError{Quality: q, Err: err}
}
