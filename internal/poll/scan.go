package poll

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// class is one scan class of a device: the tags sharing a scan period,
// read together as one (prepared) batch.
type class struct {
	period  time.Duration
	tags    []*mapping.Tag    // shares the Device's Tags when shared
	shared  bool              // tags is the Device's Tags slice: never write into it
	addrs   []drivers.Address // nil once prepared: the batch has what it needs
	out     []drivers.Sample
	batch   drivers.Batch // nil: Device.Read
	prepErr error         // Prepare failed: the class is not polled until reopen
	next    time.Time     // next deadline
	failing bool          // the last scan failed as a whole
}

type endKind int

const (
	endNone   endKind = iota
	endCtx            // ctx done: stop
	endConn           // ErrBadConn: close, back off, reopen
	endDemote         // too many failures: close, demote
)

// scanTimeout bounds one Read: long enough for a driver's own timeout and
// retries at short periods, short enough that a hung device neither delays
// shutdown nor hides a dead link for long.
func scanTimeout(period time.Duration) time.Duration {
	return min(max(3*period, time.Second), 5*time.Second)
}

// classes groups the device's polled tags by scan period (shortest first)
// and prepares each group once when the device is a Preparer.
func (r *runner) classes(dev drivers.Device, now time.Time) []*class {
	// Two passes so that every slice is allocated once at its final size:
	// at 100k tags the slack of append's growth is megabytes.
	count := map[time.Duration]int{}
	for _, t := range r.dev.Tags {
		if p, ok := r.period(t); ok {
			count[p]++
		}
	}
	by := make(map[time.Duration]*class, len(count))
	for p, n := range count {
		c := &class{period: p, next: now, addrs: make([]drivers.Address, 0, n), out: make([]drivers.Sample, n)}
		if n == len(r.dev.Tags) {
			// One class holds every tag, in order: use the Device's
			// slice instead of a copy (8 bytes a tag).
			c.tags, c.shared = r.dev.Tags, true
		} else {
			c.tags = make([]*mapping.Tag, 0, n)
		}
		by[p] = c
	}
	for _, t := range r.dev.Tags {
		if p, ok := r.period(t); ok {
			c := by[p]
			if !c.shared {
				c.tags = append(c.tags, t)
			}
			c.addrs = append(c.addrs, t.Addr)
		}
	}
	cs := make([]*class, 0, len(by))
	for _, c := range by {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].period < cs[j].period })
	if p, ok := dev.(drivers.Preparer); ok {
		for _, c := range cs {
			b, err := p.Prepare(c.addrs)
			if err == nil && b == nil {
				err = errors.New("driver returned no batch")
			}
			if err != nil {
				c.prepErr = fmt.Errorf("poll %s: prepare scan class %s (%d tags): %w", r.name, c.period, len(c.tags), err)
				r.log.Error("scan class not polled", "scan", c.period.String(), "tags", len(c.tags), "err", err)
				for _, t := range c.tags {
					t.SetQuality(drivers.BadConfigurationError, c.prepErr.Error(), now)
				}
				continue
			}
			c.batch = b
			// The batch has parsed what it needs; the Address copies
			// (80 bytes a tag) would only be held for the session.
			c.addrs = nil
		}
	}
	return cs
}

// period is the scan period of a polled tag; ok is false for tags the
// scheduler does not poll (status tags).
func (r *runner) period(t *mapping.Tag) (p time.Duration, ok bool) {
	if t == nil || t.Status {
		return 0, false
	}
	p = t.Scan
	if p <= 0 {
		p = r.dev.Scan
	}
	if p <= 0 {
		p = mapping.DefaultScan
	}
	return p, true
}

// retargetClasses swaps the classes' tags for the new table's tags of the
// same paths (same hash, so same addresses: batches stay valid).
func retargetClasses(cs []*class, d *mapping.Device) {
	by := make(map[string]*mapping.Tag, len(d.Tags))
	for _, t := range d.Tags {
		if t != nil {
			by[t.Path] = t
		}
	}
	for _, c := range cs {
		if c.shared {
			if sameTags(c.tags, d.Tags) {
				c.tags = d.Tags
				continue
			}
			// Not expected (equal hash), but never write into the old
			// table: fall back to a private copy.
			c.tags, c.shared = append([]*mapping.Tag(nil), c.tags...), false
		}
		for i, t := range c.tags {
			if n := by[t.Path]; n != nil {
				c.tags[i] = n
			}
		}
	}
}

// sameTags reports whether b has a's paths in the same order.
func sameTags(a, b []*mapping.Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if b[i] == nil || a[i].Path != b[i].Path || a[i].Status != b[i].Status {
			return false
		}
	}
	return true
}

// session polls an open device until ctx is done, the connection is lost
// or the device must be demoted. Writes are served before every scan and
// while waiting for the next deadline.
func (r *runner) session(ctx context.Context, dev drivers.Device, bo *backoff) (endKind, error) {
	cs := r.classes(dev, time.Now())
	polled := 0
	for _, c := range cs {
		if c.prepErr == nil {
			polled++
		}
	}
	if polled == 0 && r.state() == StateConnecting {
		// Nothing to scan: the device is as up as we can tell.
		r.setState(StateUp, "", time.Now())
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return endCtx, nil
		}
		if d := r.takeNext(); d != nil {
			retargetClasses(cs, d)
		}
		// Pending writes jump ahead of the polls.
		for served := true; served; {
			select {
			case w := <-r.writes:
				if err := r.serveWrite(ctx, dev, w); err != nil {
					return endConn, err
				}
			default:
				served = false
			}
		}
		c := earliest(cs)
		wait := time.Hour
		if c != nil {
			wait = time.Until(c.next)
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return endCtx, nil
			case w := <-r.writes:
				if err := r.serveWrite(ctx, dev, w); err != nil {
					return endConn, err
				}
			case <-r.wake:
			case <-timer.C:
			}
			continue
		}
		if end, err := r.scan(ctx, dev, cs, c, bo); end != endNone {
			return end, err
		}
	}
}

func earliest(cs []*class) *class {
	var e *class
	for _, c := range cs {
		if c.prepErr == nil && (e == nil || c.next.Before(e.next)) {
			e = c
		}
	}
	return e
}

// scan reads one class once and publishes the result.
// cs are all classes of the session: the device is up only when none of
// them is failing, so one dead class does not flap the state every scan.
func (r *runner) scan(ctx context.Context, dev drivers.Device, cs []*class, c *class, bo *backoff) (endKind, error) {
	clear(c.out)
	sctx, cancel := context.WithTimeout(ctx, scanTimeout(c.period))
	start := time.Now()
	var err error
	if c.batch != nil {
		err = c.batch.Read(sctx, c.out)
	} else {
		err = dev.Read(sctx, c.addrs, c.out)
	}
	cancel()
	now := time.Now()
	took := now.Sub(start)
	r.advance(c, now)
	if ctx.Err() != nil {
		return endCtx, nil
	}
	r.s.met.ScanDone(r.name, took)
	r.publishScan(took, err != nil, now)
	r.tags.flush(r.log, now)
	if err != nil {
		if errors.Is(err, drivers.ErrBadConn) {
			// run counts the failure and marks every tag.
			return endConn, err
		}
		reason := err.Error()
		class := "error"
		if errors.Is(err, context.DeadlineExceeded) || qualityOf(err) == drivers.BadTimeout {
			class = "timeout"
		}
		r.s.met.ReadError(r.name, class)
		r.failures++
		if r.shouldDemote() {
			return endDemote, err
		}
		c.failing = true
		for _, t := range c.tags {
			t.SetQuality(drivers.BadCommunicationError, reason, now)
		}
		if r.state() != StateDemoted {
			r.setState(StateDown, reason, now)
		}
		return endNone, nil
	}
	c.failing = false
	bad := 0
	for i, t := range c.tags {
		s := c.out[i]
		t.Publish(s, now)
		r.tags.note(r.log, t.Path, &s, now)
		if !s.Quality.IsGood() && !s.Quality.IsUncertain() {
			bad++
			r.s.met.ReadError(r.name, pointClass(s.Quality))
		}
	}
	if bad > 0 {
		r.mu.Lock()
		r.st.BadPoints += uint64(bad)
		r.mu.Unlock()
	}
	r.failures = 0
	bo.reset()
	if !anyFailing(cs) {
		r.setState(StateUp, "", now)
	}
	return endNone, nil
}

// advance moves c's deadline to the next tick after now. Ticks missed by an
// overrunning scan are skipped, not caught up in a burst; the phase is kept.
func (r *runner) advance(c *class, now time.Time) {
	c.next = c.next.Add(c.period)
	if c.next.After(now) {
		return
	}
	missed := now.Sub(c.next)/c.period + 1
	c.next = c.next.Add(missed * c.period)
	r.mu.Lock()
	r.st.Overruns += uint64(missed)
	r.mu.Unlock()
}

func anyFailing(cs []*class) bool {
	for _, c := range cs {
		if c.failing {
			return true
		}
	}
	return false
}
