package poll

import (
	"time"

	"github.com/tagbridge/tagbridge/mapping"
)

// Device states, as shown in DeviceStatus.State and _Devices/<name>/State
// (the same strings as mapping's State constants).
const (
	StateConnecting = mapping.StateConnecting // opening, no scan finished yet
	StateUp         = mapping.StateUp         // the last scan of every scan class succeeded
	StateDown       = mapping.StateDown       // connection lost, open failed, or a scan class failing (timeouts)
	StateDemoted    = mapping.StateDemoted    // too many consecutive failures: not polled for demote_for
	StateStopped    = mapping.StateStopped    // the device goroutine is not running
)

// DeviceStatus is a snapshot of one device, for /readyz and metrics.
type DeviceStatus struct {
	Name       string
	Driver     string
	State      string // one of the State constants
	Connected  bool   // State == StateUp
	Demoted    bool   // State == StateDemoted
	LastError  string // last batch error (kept after recovery), "" if none yet
	LastScan   time.Time
	ScanTime   time.Duration // duration of the last scan
	Scans      uint64        // scans issued
	Errors     uint64        // scans that failed as a whole (ErrorCount); Scans-Errors is ReadCount
	BadPoints  uint64        // Bad points returned by successful scans
	Overruns   uint64        // scan ticks skipped because a scan overran its period
	Reconnects uint64
	Demotions  uint64
	Writes     uint64 // client writes that reached the device goroutine
}

// repeatEvery bounds how often a device that stays in a bad state logs.
const repeatEvery = 30 * time.Second

func (r *runner) status() DeviceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *runner) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.State
}

// setState records a state and logs one line per change; repeats of a bad
// state are counted and logged at most every repeatEvery. Called only from
// the device goroutine (and once from newRunner).
func (r *runner) setState(state, reason string, now time.Time) {
	r.mu.Lock()
	prev, prevErr := r.st.State, r.st.LastError
	r.st.State = state
	r.st.Connected = state == StateUp
	r.st.Demoted = state == StateDemoted
	if reason != "" {
		r.st.LastError = reason
	}
	r.mu.Unlock()

	if reason != "" && reason != prevErr {
		r.setStatusTag(r.dev.Status.LastError, reason, now)
	}
	if prev == state {
		if state == StateUp || state == StateStopped {
			return
		}
		r.repeats++
		if now.Sub(r.lastLog) >= repeatEvery {
			r.log.Warn("device still "+state, "repeats", r.repeats, "reason", reason)
			r.repeats, r.lastLog = 0, now
		}
		return
	}
	r.setStatusTag(r.dev.Status.State, state, now)
	if (prev == StateUp) != (state == StateUp) {
		r.setStatusTag(r.dev.Status.Connected, state == StateUp, now)
	}
	if (prev == StateDemoted) != (state == StateDemoted) {
		r.setStatusTag(r.dev.Status.Demoted, state == StateDemoted, now)
	}
	repeats := r.repeats
	r.repeats, r.lastLog = 0, now
	switch state {
	case StateUp:
		if prev == StateConnecting {
			r.log.Info("device up")
		} else {
			r.log.Info("device recovered", "was", prev, "repeats", repeats)
		}
	case StateDown:
		r.log.Warn("device "+state, "reason", reason)
	case StateDemoted:
		r.log.Warn("device demoted", "reason", reason, "for", r.set.demoteFor.String(), "after_failures", r.failures)
	case StateStopped:
		r.log.Debug("device stopped")
	}
}

// publishScan counts a scan and writes the once-per-scan counters.
func (r *runner) publishScan(scanTime time.Duration, failed bool, now time.Time) {
	r.mu.Lock()
	r.st.Scans++
	if failed {
		r.st.Errors++
	}
	r.st.LastScan = now
	r.st.ScanTime = scanTime
	reads, errs := r.st.Scans, r.st.Errors
	r.mu.Unlock()
	st := &r.dev.Status
	r.setStatusTag(st.ScanTimeMs, float64(scanTime)/float64(time.Millisecond), now)
	r.setStatusTag(st.ReadCount, reads-errs, now)
	if failed {
		r.setStatusTag(st.ErrorCount, errs, now)
	}
}

// initStatusTags gives every status tag a Good value, so clients never see
// BadWaitingForInitialData on a device that has not scanned yet.
func (r *runner) initStatusTags(now time.Time) {
	st := r.status()
	s := &r.dev.Status
	r.setStatusTag(s.Connected, st.Connected, now)
	r.setStatusTag(s.State, st.State, now)
	r.setStatusTag(s.LastError, st.LastError, now)
	r.setStatusTag(s.ScanTimeMs, float64(st.ScanTime)/float64(time.Millisecond), now)
	r.setStatusTag(s.ReadCount, st.Scans-st.Errors, now)
	r.setStatusTag(s.ErrorCount, st.Errors, now)
	r.setStatusTag(s.Demoted, st.Demoted, now)
}

// setStatusTag publishes v (in the Go type of the status tag) unless it is
// unchanged, so an idle counter costs no store write.
func (r *runner) setStatusTag(t *mapping.Tag, v any, now time.Time) {
	if t != nil {
		t.SetValue(v, now)
	}
}
