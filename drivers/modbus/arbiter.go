package modbus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// arbiter owns one physical link and is the only goroutine that touches it.
// Devices sharing the link (several unit ids on one RS-485 line, or behind
// one TCP->RTU gateway) queue jobs; the arbiter runs them one at a time:
// writes before polls, jobs whose caller has gone dropped before they reach
// the wire, a quiet time after each transaction when a device asks for one,
// reconnects with exponential backoff and jitter, and a unit id that timed
// out on a shared line skipped for a while so it cannot eat the line's time.
type arbiter struct {
	key  string
	cfg  linkConfig // timeout is the attached devices' longest; see config
	tls  tlsFiles   // the files cfg's certificates came from, for conflict checks
	dial func(linkConfig) link

	reconnectMin, reconnectMax time.Duration

	mu       sync.Mutex
	closed   bool
	writes   []*job
	polls    []*job
	devices  map[*Device]time.Duration // attached devices and their timeouts
	units    map[uint8]int             // attached devices per unit id
	stats    LinkStat
	excCodes map[uint8]uint64

	wake chan struct{} // one pending signal: the queue changed
	stop chan struct{}
	done chan struct{}

	// Owned by the goroutine.
	conn           link
	connTimeout    time.Duration
	opened         bool // opened at least once: later opens are reconnects
	failures       int  // consecutive connection failures
	nextTry        time.Time
	lastErr        error
	consecTimeouts int
	unitState      map[uint8]*unitBackoff
	quietUntil     time.Time
}

type unitBackoff struct {
	timeouts int
	until    time.Time
}

// job is one unit of work on the link: a read, a write, or a
// read-modify-write that must not be interleaved with other requests.
type job struct {
	// ctx is the caller's context. A queued job carries it (as an
	// http.Request does) so that the arbiter can drop the job before it
	// reaches the wire once the caller has gone.
	ctx   context.Context
	unit  uint8
	write bool
	opts  jobOpts
	run   func(ctx context.Context, l link) error
	done  chan error // buffered: the arbiter never blocks on a caller that left

	// scan, when set instead of run, is a whole prepared read run as one
	// job (see scan.go): its transactions do not cross goroutines one by
	// one. mu is held by the arbiter while scan works on the caller's
	// memory (results, plan) and released around each transaction;
	// abandoned, set under mu by a caller whose ctx ended, tells the
	// arbiter to stop touching that memory.
	scan      scanner
	mu        sync.Mutex
	abandoned bool
	scratch   []uint16 // bit reads as 0/1 words, reused by every request of the job
}

// jobOpts are the per-device settings the arbiter applies to a job.
type jobOpts struct {
	delay                   time.Duration // quiet time on the line after the transaction
	timeoutsBeforeReconnect int
}

func newArbiter(key string, cfg linkConfig, o options, dial func(linkConfig) link) *arbiter {
	a := &arbiter{
		key:          key,
		cfg:          cfg,
		tls:          o.tlsFiles,
		dial:         dial,
		reconnectMin: o.reconnectMin,
		reconnectMax: o.reconnectMax,
		devices:      map[*Device]time.Duration{},
		units:        map[uint8]int{},
		excCodes:     map[uint8]uint64{},
		wake:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		unitState:    map[uint8]*unitBackoff{},
	}
	a.stats.Link = key
	go a.loop()
	return a
}

// attach registers a device on the link; it reports the link's device count.
func (a *arbiter) attach(d *Device) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.devices[d] = d.opt.timeout
	a.units[d.opt.unit]++
}

// detach removes a device; it reports how many remain.
func (a *arbiter) detach(d *Device) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.devices[d]; !ok {
		return len(a.devices)
	}
	delete(a.devices, d)
	if a.units[d.opt.unit]--; a.units[d.opt.unit] <= 0 {
		delete(a.units, d.opt.unit)
	}
	return len(a.devices)
}

// owner names one attached device, for conflict errors.
func (a *arbiter) owner() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	names := make([]string, 0, len(a.devices))
	for d := range a.devices {
		names = append(names, d.name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "?"
	}
	return names[0]
}

// shutdown stops the goroutine, fails queued jobs and closes the link. It
// waits for a transaction in progress (at most the link timeout).
func (a *arbiter) shutdown() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.done
		return
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
}

// do queues run and waits for its result or for ctx to end.
func (a *arbiter) do(ctx context.Context, unit uint8, write bool, o jobOpts, run func(ctx context.Context, l link) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, unit: unit, write: write, opts: o, run: run, done: make(chan error, 1)}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return fmt.Errorf("link %s: %w", a.key, errLinkClosed)
	}
	if write {
		a.writes = append(a.writes, j)
	} else {
		a.polls = append(a.polls, j)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		// The arbiter drops the job if it has not started it; if it has,
		// the result lands in the buffered channel and is discarded.
		return ctx.Err()
	}
}

func (a *arbiter) loop() {
	defer close(a.done)
	defer func() {
		if a.conn != nil {
			_ = a.conn.close()
		}
		a.mu.Lock()
		jobs := append(a.writes, a.polls...)
		a.writes, a.polls = nil, nil
		a.stats.Connected = false
		a.mu.Unlock()
		for _, j := range jobs {
			j.done <- fmt.Errorf("link %s: %w", a.key, errLinkClosed)
		}
	}()
	for {
		// Quiet time first, so that a write queued meanwhile goes next.
		if !a.quiet(context.Background()) {
			return
		}
		j := a.next()
		if j == nil {
			select {
			case <-a.stop:
				return
			case <-a.wake:
				continue
			}
		}
		select {
		case <-a.stop:
			j.done <- fmt.Errorf("link %s: %w", a.key, errLinkClosed)
			return
		default:
		}
		j.done <- a.serve(j)
	}
}

// quiet waits for the end of the quiet time after the last transaction.
// It reports false when the link is shutting down or ctx ended first.
func (a *arbiter) quiet(ctx context.Context) bool {
	wait := time.Until(a.quietUntil)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-a.stop:
		return false
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// next pops the next job: writes first, then polls, each in arrival order.
func (a *arbiter) next() *job {
	a.mu.Lock()
	defer a.mu.Unlock()
	var j *job
	switch {
	case len(a.writes) > 0:
		j, a.writes = a.writes[0], a.writes[1:]
	case len(a.polls) > 0:
		j, a.polls = a.polls[0], a.polls[1:]
	}
	return j
}

func (a *arbiter) serve(j *job) error {
	if j.scan != nil {
		return a.serveScan(j)
	}
	if err := j.ctx.Err(); err != nil {
		a.count(func(s *LinkStat) { s.Dropped++ })
		return err
	}
	if err := a.begin(j); err != nil {
		return err
	}
	err := j.run(j.ctx, a.conn)
	return a.end(j, err)
}

// begin readies the link for one transaction of j: the unit must not be
// backed off and the link must be open. It counts the request.
func (a *arbiter) begin(j *job) error {
	if err := a.unitCheck(j.unit); err != nil {
		return err
	}
	if err := a.ensure(j.ctx); err != nil {
		return err
	}
	a.count(func(s *LinkStat) { s.Requests++ })
	return nil
}

// end starts the quiet time after a transaction and settles its outcome.
func (a *arbiter) end(j *job, err error) error {
	a.quietUntil = time.Now().Add(j.opts.delay)
	return a.settle(j, err)
}

// unitCheck fails a job at once while its unit id is backed off.
func (a *arbiter) unitCheck(unit uint8) error {
	us := a.unitState[unit]
	if us == nil {
		return nil
	}
	if wait := time.Until(us.until); wait > 0 {
		return fmt.Errorf("unit %d: %w for %s after %d timeouts in a row", unit, errUnitBackedOff, wait.Round(time.Millisecond), us.timeouts)
	}
	return nil
}

// ensure opens the link if needed, unless a reconnect backoff is running.
func (a *arbiter) ensure(ctx context.Context) error {
	cfg := a.config()
	if a.conn != nil && a.connTimeout != cfg.timeout {
		// A device with a longer timeout joined (or left): reopen with it.
		_ = a.conn.close()
		a.conn = nil
	}
	if a.conn != nil {
		return nil
	}
	if wait := time.Until(a.nextTry); wait > 0 {
		return &connError{fmt.Errorf("link %s down, next reconnect in %s: %w", a.key, wait.Round(time.Millisecond), a.lastErr)}
	}
	l := a.dial(cfg)
	if err := l.open(ctx); err != nil {
		if isCanceled(err) {
			return err
		}
		_ = l.close()
		a.count(func(s *LinkStat) { s.ConnErrors++ })
		a.connFailed(err)
		return &connError{fmt.Errorf("link %s: open: %w", a.key, err)}
	}
	a.conn, a.connTimeout = l, cfg.timeout
	a.count(func(s *LinkStat) {
		s.Connected = true
		if a.opened {
			s.Reconnects++
		}
	})
	a.opened = true
	return nil
}

// config is the link configuration with the longest timeout of the
// attached devices, so that no device's requests are cut short.
func (a *arbiter) config() linkConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cfg
	if len(a.devices) > 0 {
		c.timeout = 0
		for _, t := range a.devices {
			c.timeout = max(c.timeout, t)
		}
	}
	return c
}

// settle updates the link state after a transaction and returns the
// caller's error.
func (a *arbiter) settle(j *job, err error) error {
	switch classify(err) {
	case classOK, classException:
		a.consecTimeouts, a.failures = 0, 0
		delete(a.unitState, j.unit)
		if err == nil {
			return nil // before exc: errors.As would make it escape
		}
		var exc Exception
		if errors.As(err, &exc) {
			a.count(func(s *LinkStat) { s.Exceptions++; a.excCodes[exc.Code]++ })
		}
		return err
	case classTimeout:
		a.count(func(s *LinkStat) { s.Timeouts++ })
		a.timedOut(j)
		return err
	case classFrame:
		a.count(func(s *LinkStat) { s.FrameErrors++ })
		if a.cfg.stream() {
			// The stream may be out of step with the frames: start over.
			a.drop()
		} else {
			// The serial link has flushed the line; count it like a lost
			// reply so that a line full of noise still ends in a reopen,
			// but do not back the unit off: noise is not its fault.
			a.lostReply(j)
		}
		return err
	case classConn:
		a.count(func(s *LinkStat) { s.ConnErrors++ })
		a.drop()
		a.connFailed(err)
		return &connError{fmt.Errorf("link %s: %w", a.key, err)}
	}
	return err
}

// timedOut counts a lost reply: N in a row on the link reopen it; on a
// shared line the unit id is backed off so the others keep their scans.
func (a *arbiter) timedOut(j *job) {
	a.lostReply(j)
	a.mu.Lock()
	shared := len(a.units) > 1
	a.mu.Unlock()
	if !shared {
		return
	}
	us := a.unitState[j.unit]
	if us == nil {
		us = &unitBackoff{}
		a.unitState[j.unit] = us
	}
	us.timeouts++
	d := a.connTimeout << min(us.timeouts-1, 16)
	if d <= 0 || d > a.reconnectMax {
		d = a.reconnectMax
	}
	us.until = time.Now().Add(d)
	a.count(func(s *LinkStat) { s.UnitBackoffs++ })
}

// lostReply counts a transaction without a usable reply; N in a row on the
// link (whatever the unit) reopen it.
func (a *arbiter) lostReply(j *job) {
	a.consecTimeouts++
	if n := j.opts.timeoutsBeforeReconnect; n > 0 && a.consecTimeouts >= n {
		a.consecTimeouts = 0
		a.drop()
	}
}

// drop closes the connection; the next job reopens it.
func (a *arbiter) drop() {
	if a.conn != nil {
		_ = a.conn.close()
		a.conn = nil
	}
	a.count(func(s *LinkStat) { s.Connected = false })
}

// connFailed schedules the next reconnect: at once after the first failure
// (the peer may just have restarted), then reconnect_min doubling up to
// reconnect_max, with jitter so that many gateways do not reconnect in step.
func (a *arbiter) connFailed(err error) {
	a.failures++
	a.lastErr = err
	a.nextTry = time.Now().Add(backoff(a.failures, a.reconnectMin, a.reconnectMax))
}

func backoff(failures int, lo, hi time.Duration) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := lo << min(failures-2, 30)
	if d <= 0 || d > hi {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}

func (a *arbiter) count(f func(*LinkStat)) {
	a.mu.Lock()
	f(&a.stats)
	a.mu.Unlock()
}

// LinkStat is a snapshot of one link's state and counters, for metrics.
type LinkStat struct {
	Link         string           // "tcp 10.0.0.5:502", "serial /dev/ttyUSB0"
	Devices      int              // devices attached
	Units        []uint8          // their unit ids, sorted
	Connected    bool             // the connection is open
	QueueDepth   int              // jobs waiting (writes + polls)
	Requests     uint64           // jobs that reached the wire (a read-modify-write counts once)
	Timeouts     uint64           // no reply in time
	Exceptions   uint64           // exception replies
	ExceptionsBy map[uint8]uint64 // exception replies by code
	FrameErrors  uint64           // malformed replies (CRC/LRC, garbage)
	ConnErrors   uint64           // connection losses and failed opens
	Reconnects   uint64           // successful opens after the first
	Dropped      uint64           // jobs dropped because their caller had gone
	UnitBackoffs uint64           // times a unit id was backed off on a shared line
}

func (a *arbiter) snapshot() LinkStat {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Devices = len(a.devices)
	s.Units = slices.Sorted(maps.Keys(a.units))
	s.QueueDepth = len(a.writes) + len(a.polls)
	s.ExceptionsBy = maps.Clone(a.excCodes)
	return s
}
