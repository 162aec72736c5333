package mapping

import (
	"fmt"
	"math"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// NaN/Inf policies (device option `nan`).
const (
	NaNBad  = "bad"  // BadOutOfRange, previous value kept (default)
	NaNZero = "zero" // publish 0, Good
	NaNKeep = "keep" // publish NaN/Inf as read, Good
)

// errClamped is the diagnostics text of a clamped value.
const errClamped = "clamped to the engineering range"

// current is the value Decode compares against: the Entry's, or the
// never-read state for a tag without an Entry.
func (t *Tag) current() Value {
	if t.Entry != nil {
		return t.Entry.Load()
	}
	return Value{Quality: drivers.BadWaitingForInitialData}
}

// threshold is the deadband in engineering units (0: any change publishes).
func (t *Tag) threshold() float64 {
	if t.Deadband.Percent > 0 && t.Range != nil {
		return t.Deadband.Percent / 100 * (t.Range[1] - t.Range[0])
	}
	return t.Deadband.Absolute
}

// Decode turns a raw driver sample into the tag's engineering value:
// scaling (a Float64 result when scaled), clamp (quality
// UncertainEngineeringUnitsExceeded), the NaN/Inf policy t.NaN, and the
// deadband against the Entry's current value. A Bad sample keeps the
// previous value and Source timestamp. Server = now, Source = s.Time.
//
// publish is false when nothing a client would see changed: same quality
// and a value within the deadband (with no deadband: an equal value). A
// quality or type change and the first value always publish. When publish
// is false, v is the Entry's current value unchanged. Decode does not
// allocate for unscaled values of the expected Go type that are suppressed
// or published; a published scaled value costs one 8-byte allocation.
func (t *Tag) Decode(s drivers.Sample, now time.Time) (v Value, publish bool) {
	cur := t.current()
	if s.Quality.IsBad() {
		return t.bad(cur, s.Quality, s.Err, "", now)
	}
	if s.Value == nil {
		return t.bad(cur, drivers.BadInternalError, s.Err, "driver returned no value", now)
	}
	src := s.Time
	if src.IsZero() {
		src = now
	}
	q := s.Quality
	if t.Addr.Type == drivers.BCD16 || t.Addr.Type == drivers.BCD32 {
		if _, hi, _ := intRange(t.Addr.Type); !inUint(s.Value, hi) {
			return t.bad(cur, drivers.BadOutOfRange, nil, fmt.Sprintf("%v is not a %s value", s.Value, t.Addr.Type), now)
		}
	}
	if t.Scale != nil {
		f, ok := toFloat(s.Value)
		if !ok {
			return t.bad(cur, drivers.BadTypeMismatch, nil, fmt.Sprintf("driver returned %T for a %s tag", s.Value, t.Addr.Type), now)
		}
		eng := f*t.Scale.Gain + t.Scale.Offset
		if !finite(f) || !finite(eng) {
			switch t.NaN {
			case NaNZero:
				eng = 0
			case NaNKeep: // NaN or Inf as computed
			default:
				return t.bad(cur, drivers.BadOutOfRange, nil, "value is NaN or infinite", now)
			}
		}
		errText := ""
		if t.Scale.Clamp && !math.IsNaN(eng) {
			if eng < t.Scale.EngLow {
				eng, q, errText = t.Scale.EngLow, drivers.UncertainEngineeringUnitsExceeded, errClamped
			} else if eng > t.Scale.EngHigh {
				eng, q, errText = t.Scale.EngHigh, drivers.UncertainEngineeringUnitsExceeded, errClamped
			}
		}
		if cur.V != nil && cur.Quality == q {
			if old, ok := cur.V.(float64); ok && !floatChanged(old, eng, t.threshold()) {
				return cur, false
			}
		}
		return Value{V: eng, Quality: q, Source: src, Server: now, Err: errText}, true
	}

	val := s.Value
	if !t.Type.Holds(val) {
		var cq drivers.Quality
		if val, cq = coerce(val, t.Type); cq != drivers.Good {
			return t.bad(cur, cq, nil, fmt.Sprintf("driver returned %T %v for a %s tag", s.Value, s.Value, t.Addr.Type), now)
		}
	}
	if t.Type == drivers.Float32 || t.Type == drivers.Float64 {
		if f, _ := toFloat(val); !finite(f) {
			switch t.NaN {
			case NaNZero:
				val = t.Type.Zero()
			case NaNKeep:
			default:
				return t.bad(cur, drivers.BadOutOfRange, nil, "value is NaN or infinite", now)
			}
		}
	}
	if cur.V != nil && cur.Quality == q && !changed(cur.V, val, t.threshold()) {
		return cur, false
	}
	return Value{V: val, Quality: q, Source: src, Server: now}, true
}

// bad keeps the current value and Source timestamp under quality q; it
// publishes only when the quality changes. The error text is built only
// when publishing.
func (t *Tag) bad(cur Value, q drivers.Quality, err error, msg string, now time.Time) (Value, bool) {
	if cur.Quality == q {
		return cur, false
	}
	switch {
	case err != nil && msg != "":
		msg = msg + ": " + err.Error()
	case err != nil:
		msg = err.Error()
	case msg == "":
		msg = q.String()
	}
	return Value{V: cur.V, Quality: q, Source: cur.Source, Server: now, Err: msg}, true
}

// Publish decodes s and stores the result when it should be published. It
// reports whether it stored. Called from the device's poll goroutine.
func (t *Tag) Publish(s drivers.Sample, now time.Time) bool {
	v, ok := t.Decode(s, now)
	if ok && t.Entry != nil {
		t.Entry.Set(v)
	}
	return ok
}

// SetValue publishes v (in the Go type of t.Type) as a Good value read at
// now, unless it equals the current one. The scheduler uses it for the
// status tags.
func (t *Tag) SetValue(v any, now time.Time) bool {
	return t.Publish(drivers.Sample{Value: v, Quality: drivers.Good, Time: now}, now)
}

// SetQuality keeps the current value and Source timestamp and sets the
// quality, diagnostics and Server timestamp (device down ->
// BadCommunicationError, demoted -> BadOutOfService). Nothing is stored when
// quality and reason are unchanged.
func (t *Tag) SetQuality(q drivers.Quality, reason string, now time.Time) {
	if t.Entry == nil {
		return
	}
	cur := t.Entry.Load()
	if cur.Quality == q && cur.Err == reason {
		return
	}
	t.Entry.Set(Value{V: cur.V, Quality: q, Source: cur.Source, Server: now, Err: reason})
}
