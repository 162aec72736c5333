package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// Defaults for zero Device.Settings fields.
const (
	DefaultBackoffMin   = 500 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
	DefaultDemoteFor    = 10 * time.Second
	DefaultWriteTimeout = 5 * time.Second
)

type settings struct {
	demoteAfter                                     int
	demoteFor, backoffMin, backoffMax, writeTimeout time.Duration
}

func settingsOf(d *mapping.Device) settings {
	c := d.Settings
	s := settings{
		demoteAfter:  max(c.DemoteAfter, 0),
		demoteFor:    orDefault(c.DemoteFor, DefaultDemoteFor),
		backoffMin:   orDefault(c.BackoffMin, DefaultBackoffMin),
		backoffMax:   orDefault(c.BackoffMax, DefaultBackoffMax),
		writeTimeout: orDefault(c.WriteTimeout, DefaultWriteTimeout),
	}
	s.backoffMax = max(s.backoffMax, s.backoffMin)
	return s
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// runner owns one device. Fields below "goroutine-owned" are touched only by
// the device goroutine.
type runner struct {
	s      *Scheduler
	name   string
	hash   string
	set    settings
	log    *slog.Logger
	prev   *runner // the runner this one replaces: open only after it closed
	cancel context.CancelFunc
	done   chan struct{}

	writes chan *writeReq
	next   atomic.Pointer[mapping.Device] // tags from Apply for an unchanged device
	wake   chan struct{}                  // cap 1: next was set

	mu sync.Mutex
	st DeviceStatus

	// goroutine-owned
	dev      *mapping.Device
	failures int // consecutive failed scans or opens
	repeats  int // repeats of the current bad state since it was last logged
	lastLog  time.Time
	tags     tagLog // per-tag problem lines (taglog.go)
}

func newRunner(s *Scheduler, d *mapping.Device, prev *runner, cancel context.CancelFunc) *runner {
	return &runner{
		s:      s,
		name:   d.Name,
		hash:   d.Hash,
		set:    settingsOf(d),
		log:    s.log.With("device", d.Name, "driver", d.Driver),
		prev:   prev,
		cancel: cancel,
		done:   make(chan struct{}),
		writes: make(chan *writeReq, 16),
		wake:   make(chan struct{}, 1),
		dev:    d,
		st:     DeviceStatus{Name: d.Name, Driver: d.Driver, State: StateConnecting},
	}
}

func (r *runner) stopped() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// retarget hands the goroutine the new table's Device with the same hash.
// It never blocks, even if the device is stuck in a Read.
func (r *runner) retarget(d *mapping.Device) {
	r.next.Store(d)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// takeNext switches to a Device handed over by retarget, if any.
func (r *runner) takeNext() *mapping.Device {
	d := r.next.Swap(nil)
	if d != nil {
		r.dev = d
	}
	return d
}

// run is the device goroutine: open, poll until the connection is lost or
// the device is demoted, close, wait (backoff or demotion), repeat.
func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	defer func() { r.setState(StateStopped, "", time.Now()) }()
	if r.prev != nil {
		select {
		case <-r.prev.done:
		case <-ctx.Done():
			return
		}
		r.prev = nil
	}
	r.initStatusTags(time.Now())
	bo := backoff{min: r.set.backoffMin, max: r.set.backoffMax}
	opened := false
	for ctx.Err() == nil {
		r.takeNext()
		dev, err := r.open(ctx)
		if err == nil {
			if opened {
				r.mu.Lock()
				r.st.Reconnects++
				r.mu.Unlock()
				r.s.met.Reconnect(r.name)
			}
			opened = true
			var end endKind
			end, err = r.guard(func() (endKind, error) { return r.session(ctx, dev, &bo) })
			_, cerr := r.guard(func() (endKind, error) { return endNone, dev.Close() })
			if cerr != nil {
				r.log.Debug("device close", "err", cerr)
			}
			switch end {
			case endCtx:
				return
			case endDemote:
				if !r.demote(ctx, err) {
					return
				}
				continue
			}
		} else if ctx.Err() != nil {
			return
		}
		// The connection was lost or could not be opened.
		now := time.Now()
		reason := err.Error()
		r.failures++
		r.s.met.ReadError(r.name, "connection")
		if r.shouldDemote() {
			if !r.demote(ctx, err) {
				return
			}
			continue
		}
		if r.state() != StateDemoted {
			r.markAll(drivers.BadCommunicationError, reason, now)
			r.setState(StateDown, reason, now)
		}
		if !r.idle(ctx, bo.next(), drivers.BadCommunicationError, "device down: "+reason) {
			return
		}
	}
}

func (r *runner) open(ctx context.Context) (drivers.Device, error) {
	drv, err := drivers.Lookup(r.dev.Driver)
	if err != nil {
		return nil, fmt.Errorf("poll %s: %w", r.name, err)
	}
	var dev drivers.Device
	_, err = r.guard(func() (endKind, error) {
		var err error
		dev, err = drv.Open(ctx, r.name, r.dev.Options)
		return endNone, err
	})
	if err != nil {
		return nil, fmt.Errorf("poll %s: open: %w", r.name, err)
	}
	if dev == nil {
		return nil, fmt.Errorf("poll %s: open: driver %q returned no device", r.name, r.dev.Driver)
	}
	return dev, nil
}

func (r *runner) shouldDemote() bool {
	return r.set.demoteAfter > 0 && r.failures >= r.set.demoteAfter
}

// demote takes the device out of service for demote_for. Afterwards one
// more failure demotes it again (Kepware's behaviour), a success recovers
// it. It returns false when ctx is done.
func (r *runner) demote(ctx context.Context, cause error) bool {
	now := time.Now()
	reason := fmt.Sprintf("%d consecutive failures", r.failures)
	if cause != nil {
		reason += ": " + cause.Error()
	}
	if r.state() != StateDemoted {
		r.mu.Lock()
		r.st.Demotions++
		r.mu.Unlock()
		r.s.met.Demoted(r.name)
	}
	r.markAll(drivers.BadOutOfService, "device demoted: "+reason, now)
	r.setState(StateDemoted, reason, now)
	r.failures = r.set.demoteAfter - 1
	return r.idle(ctx, r.set.demoteFor, drivers.BadOutOfService, "device demoted: "+reason)
}

// idle waits d without a device: writes are answered at once with q.
func (r *runner) idle(ctx context.Context, d time.Duration, q drivers.Quality, reason string) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case w := <-r.writes:
			w.fail(q, errors.New(reason))
			r.s.met.WriteDone(r.name, q)
		case <-r.wake:
			r.takeNext()
		}
	}
}

// markAll sets the quality of every polled tag of the device, keeping
// values and source timestamps.
func (r *runner) markAll(q drivers.Quality, reason string, now time.Time) {
	for _, t := range r.dev.Tags {
		if t != nil && !t.Status && t.Entry != nil {
			t.SetQuality(q, reason, now)
		}
	}
}

// guard runs fn and turns a driver panic into a lost connection, so one
// driver bug on one device's data never takes the gateway down.
func (r *runner) guard(fn func() (endKind, error)) (end endKind, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("driver panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			end, err = endConn, fmt.Errorf("poll %s: driver panic: %v: %w", r.name, p, drivers.ErrBadConn)
		}
	}()
	return fn()
}
