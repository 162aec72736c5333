package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
)

// Control-flow outcomes of following /sample; not reported as errors.
var (
	errGap       = errors.New("sequence gap: the agent's buffer no longer holds our next sequence")
	errRestart   = errors.New("agent restarted: instanceId changed")
	errFallback  = errors.New("the agent does not stream multipart")
	errHeartbeat = errors.New("heartbeat lost: no stream part within two heartbeats")
	errRetry     = errors.New("retry with a smaller count")
)

// session is the follower's own state (only its goroutine touches it).
type session struct {
	probe    *probe
	reprobe  bool
	instance string // instanceId of the documents we follow
	next     uint64 // next sequence to read
	mode     string
	count    int
	progress bool   // a sample document was applied since the last (re)connect
	docs     uint64 // sample documents applied in this session
}

// follow is the follower goroutine: it keeps the cache in step with the
// agent until ctx is cancelled by Close, reconnecting with backoff.
func (d *device) follow(ctx context.Context) {
	defer close(d.done)
	s := &session{mode: d.opt.Mode, count: d.opt.Count}
	d.mu.Lock()
	s.probe = d.pr // Discover may have read the probe already
	d.mu.Unlock()
	b := backoff{min: 100 * time.Millisecond, max: 30 * time.Second}
	for {
		s.progress = false
		err := d.run(ctx, s)
		if ctx.Err() != nil {
			return
		}
		d.fail(err)
		if s.progress {
			b.reset()
		}
		t := time.NewTimer(b.next())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		d.mu.Lock()
		d.stats.Reconnects++
		d.mu.Unlock()
	}
}

// maxResyncs bounds back-to-back gap/restart recoveries without progress, so
// an agent that always answers OUT_OF_RANGE does not spin the follower.
const maxResyncs = 4

// run probes if needed, takes a /current baseline and follows /sample. It
// returns only on an error (or ctx cancellation).
func (d *device) run(ctx context.Context, s *session) error {
	docs := s.docs
	for resync := 0; ; resync++ {
		if s.docs != docs {
			resync, docs = 0, s.docs // data flowed since the last resync
		}
		if resync > maxResyncs {
			return fmt.Errorf("mtconnect %s: %d resyncs without progress", d.name, resync-1)
		}
		if s.probe == nil || s.reprobe {
			p, err := d.fetchProbe(ctx)
			if err != nil {
				return fmt.Errorf("mtconnect %s: %w", d.name, err)
			}
			d.setProbe(p, s.reprobe)
			s.probe, s.reprobe, s.instance = p, false, p.Header.InstanceID
			if p.Header.BufferSize > 0 && uint64(s.count) > p.Header.BufferSize {
				s.count = int(p.Header.BufferSize) // agents answer TOO_MANY past their buffer
			}
		}
		cur, err := d.fetchStreams(ctx, s.probe.Device, "current", nil)
		if err != nil {
			return fmt.Errorf("mtconnect %s: %w", d.name, err)
		}
		if s.instance != "" && cur.Header.InstanceID != s.instance {
			s.reprobe = true // the agent restarted between our probe and this /current
			continue
		}
		s.instance = cur.Header.InstanceID
		s.next = cur.Header.NextSequence
		d.baseline(cur)
		if s.mode == ModeStream {
			err = d.stream(ctx, s)
		} else {
			err = d.poll(ctx, s)
		}
		switch {
		case errors.Is(err, errGap):
			d.count(func(st *Stats) { st.Gaps++ })
		case errors.Is(err, errRestart):
			s.reprobe = true
		case errors.Is(err, errRetry):
		case errors.Is(err, errFallback):
			s.mode = ModePoll
			d.count(func(st *Stats) { st.Fallbacks++; st.Mode = ModePoll })
			slog.Warn("mtconnect: agent does not stream, polling instead", "device", d.name, "reason", err)
		default:
			return err
		}
	}
}

// sampleQuery is the /sample query from our next sequence.
func (s *session) sampleQuery() url.Values {
	q := url.Values{}
	q.Set("from", strconv.FormatUint(s.next, 10))
	q.Set("count", strconv.Itoa(s.count))
	return q
}

// poll follows /sample by polling every interval.
func (d *device) poll(ctx context.Context, s *session) error {
	for {
		doc, err := d.fetchStreams(ctx, s.probe.Device, "sample", s.sampleQuery())
		if err != nil {
			if ctrl := d.agentRecover(err, s); errors.Is(ctrl, errRetry) {
				continue
			} else if ctrl != nil {
				return ctrl
			}
			return fmt.Errorf("mtconnect %s: %w", d.name, err)
		}
		if err := d.applySamples(s, doc); err != nil {
			return err
		}
		if len(doc.Obs) > 0 && doc.Header.LastSequence >= s.next {
			continue // the agent holds more than count: read on without waiting
		}
		t := time.NewTimer(d.opt.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// agentRecover maps the agent errors the follower recovers from to control
// errors: OUT_OF_RANGE to errGap; TOO_MANY to errRetry after halving count.
// It returns nil for every other error.
func (d *device) agentRecover(err error, s *session) error {
	var ae *AgentError
	if !errors.As(err, &ae) {
		return nil
	}
	switch ae.Code {
	case CodeOutOfRange:
		return errGap
	case CodeTooMany:
		if s.count > 1 {
			s.count /= 2
			return errRetry
		}
	}
	return nil
}

// applySamples checks a /sample document (or stream part) against our
// sequence and instance and applies it.
func (d *device) applySamples(s *session, doc *streamsDoc) error {
	h := doc.Header
	if h.InstanceID != s.instance {
		return errRestart
	}
	if h.FirstSequence > s.next {
		return errGap
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range doc.Obs {
		if o.Seq != 0 && o.Seq < s.next {
			continue // already applied (an agent answering from an older sequence)
		}
		d.cache.apply(o)
		d.stats.Observations++
	}
	if h.NextSequence > s.next {
		s.next = h.NextSequence
	}
	s.progress = true
	s.docs++
	d.okLocked(s.next)
	return nil
}

// baseline replaces the cache with a /current document.
func (d *device) baseline(doc *streamsDoc) {
	c := cache{}
	for _, o := range doc.Obs {
		c.apply(o)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cache = c
	d.stats.Observations += uint64(len(doc.Obs))
	d.stats.InstanceID = doc.Header.InstanceID
	d.okLocked(doc.Header.NextSequence)
}

// okLocked records a good exchange: the follower is in step again.
func (d *device) okLocked(next uint64) {
	if d.err != nil {
		slog.Info("mtconnect: following the agent again", "device", d.name, "next", next)
	}
	d.err = nil
	d.stats.Connected = true
	d.stats.LastError = ""
	d.stats.NextSequence = next
	d.stats.Documents++
	d.markSyncedLocked()
}

// fail records the follower's error (Read reports it until the next good exchange).
func (d *device) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil || d.err.Error() != err.Error() {
		slog.Warn("mtconnect: agent unusable", "device", d.name, "err", err)
	}
	d.err = err
	d.stats.Connected = false
	d.stats.LastError = err.Error()
	if errors.Is(err, errHeartbeat) {
		d.stats.Heartbeats++
	}
	d.markSyncedLocked()
}

func (d *device) markSyncedLocked() {
	if !d.syncDone {
		d.syncDone = true
		close(d.synced)
	}
}

// setProbe publishes a (re-read) probe.
func (d *device) setProbe(p *probe, reprobe bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pr = p
	if reprobe {
		d.stats.Reprobes++
		slog.Info("mtconnect: agent restarted, probe re-read", "device", d.name, "instanceId", p.Header.InstanceID)
	}
	d.stats.Version = p.Header.Version
	d.stats.BufferSize = p.Header.BufferSize
	d.stats.Device = p.Device
	d.stats.InstanceID = p.Header.InstanceID
}

func (d *device) count(f func(*Stats)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.stats)
}

// backoff doubles from min to max with +-20% jitter, so that many gateways
// do not hammer a restarted agent in step.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	j := time.Duration(rand.Int64N(int64(b.cur)/5 + 1))
	return b.cur - b.cur/10 + j
}
