package poll

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// Per-tag problem lines: at most tagLogLimit lines per device per
// tagLogWindow, then one summary line when the window ends.
const (
	tagLogLimit  = 20
	tagLogWindow = time.Minute
)

// tagLog logs per-point problems of one device (DESIGN.md section 7: the
// exception and the PDU address in the logs): one Warn line when a tag's
// point turns Bad in a scan that succeeded, one Info line when it reads
// again, and nothing for the scans in between. Whole-device failures never
// reach it: a failed scan does not look at its points, and the device state
// line covers them. Owned by the device goroutine (no locking).
//
// The state is kept across sessions by tag path, so a tag that is still
// Bad after the device was down and back is not logged again.
type tagLog struct {
	bad map[string]drivers.Quality // tags whose last point was Bad, by path; nil when none

	limit  int           // lines per window (0: tagLogLimit)
	window time.Duration // (0: tagLogWindow)

	start      time.Time // of the current window
	lines      int       // logged in the current window
	suppressed int       // not logged in the current window
}

// note records the point s that a successful scan just published for the
// tag at path. The scheduler calls it for every point of every successful
// scan, so the common case (s not Bad, no tag Bad) is one inlined test:
// keep it under the inlining budget.
func (l *tagLog) note(log *slog.Logger, path string, s *drivers.Sample, now time.Time) {
	if s.Quality.IsBad() || l.bad != nil {
		l.change(log, path, s, now)
	}
}

func (l *tagLog) change(log *slog.Logger, path string, s *drivers.Sample, now time.Time) {
	q, err := s.Quality, s.Err
	was, wasBad := l.bad[path]
	switch {
	case q.IsBad() && (!wasBad || was != q):
		if l.bad == nil {
			l.bad = map[string]drivers.Quality{}
		}
		l.bad[path] = q
		if l.allow(log, now) {
			reason := q.String()
			if err != nil {
				reason = err.Error()
			}
			if wasBad {
				log.Warn("tag bad", "tag", path, "quality", q.String(), "was", was.String(), "err", reason)
			} else {
				log.Warn("tag bad", "tag", path, "quality", q.String(), "err", reason)
			}
		}
	case !q.IsBad() && wasBad:
		delete(l.bad, path)
		if len(l.bad) == 0 {
			l.bad = nil // note's fast path again
		}
		if l.allow(log, now) {
			log.Info("tag recovered", "tag", path, "quality", q.String(), "was", was.String())
		}
	}
}

// allow reports whether one more line fits in the current window, counting
// it either way.
func (l *tagLog) allow(log *slog.Logger, now time.Time) bool {
	l.flush(log, now)
	if l.start.IsZero() {
		l.start = now
	}
	limit := l.limit
	if limit <= 0 {
		limit = tagLogLimit
	}
	if l.lines < limit {
		l.lines++
		return true
	}
	l.suppressed++
	return false
}

// flush ends the window once it is over, with one summary line if lines
// were suppressed in it. The scheduler calls it after every scan, so the
// summary comes at most one scan period after the window.
func (l *tagLog) flush(log *slog.Logger, now time.Time) {
	if !l.start.IsZero() {
		l.endWindow(log, now)
	}
}

func (l *tagLog) endWindow(log *slog.Logger, now time.Time) {
	window := l.window
	if window <= 0 {
		window = tagLogWindow
	}
	if now.Sub(l.start) < window {
		return
	}
	if l.suppressed > 0 {
		log.Warn(fmt.Sprintf("%d more tag problems suppressed", l.suppressed),
			"suppressed", l.suppressed, "window", window.String(), "still_bad", len(l.bad))
	}
	l.start, l.lines, l.suppressed = time.Time{}, 0, 0
}
