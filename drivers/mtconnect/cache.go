package mtconnect

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// latest is the latest state of one DataItem.
type latest struct {
	value string
	time  time.Time
	seq   uint64
	cond  *condState // CONDITION items
}

// condState is the set of active conditions of one CONDITION DataItem, by
// native code: a Fault with code 1001 and a Warning with code 12 can be active
// at the same time, and a Normal with a code clears only that code.
type condState struct {
	unavailable bool
	active      map[string]condEntry
}

type condEntry struct {
	level, message string
	seq            uint64
}

// cache holds the latest value of every DataItem by id.
type cache map[string]*latest

// apply records one observation (observations come in sequence order).
func (c cache) apply(o observation) {
	l := c[o.ID]
	if l == nil {
		l = &latest{}
		c[o.ID] = l
	}
	if o.Seq != 0 && o.Seq < l.seq {
		return // older than what we hold (a /current baseline overlapping a stream)
	}
	l.seq, l.time = o.Seq, o.Time
	if o.Category != "CONDITION" {
		l.value, l.cond = o.Value, nil
		return
	}
	if l.cond == nil {
		l.cond = &condState{active: map[string]condEntry{}}
	}
	cs := l.cond
	switch o.Level {
	case "Unavailable":
		cs.unavailable = true
		clear(cs.active)
	case "Normal":
		cs.unavailable = false
		if o.NativeCode == "" {
			clear(cs.active)
		} else {
			delete(cs.active, o.NativeCode)
		}
	default: // Warning, Fault (and any future level: kept, shown as is)
		cs.unavailable = false
		cs.active[o.NativeCode] = condEntry{level: o.Level, message: o.Value, seq: o.Seq}
	}
}

var levelRank = map[string]int{"Normal": 0, "Warning": 1, "Fault": 2}

// text is the condition as a string: "<Level>" or "<Level>: <message>", the
// most severe active level with its messages (joined by "; ").
func (cs *condState) text() (level, s string) {
	if cs.unavailable {
		return "Unavailable", "Unavailable"
	}
	if len(cs.active) == 0 {
		return "Normal", "Normal"
	}
	type coded struct {
		code string
		condEntry
	}
	es := make([]coded, 0, len(cs.active))
	for code, e := range cs.active {
		es = append(es, coded{code, e})
	}
	sort.Slice(es, func(i, j int) bool {
		ri, rj := levelRank[es[i].level], levelRank[es[j].level]
		if ri != rj {
			return ri > rj
		}
		if es[i].seq != es[j].seq {
			return es[i].seq < es[j].seq
		}
		return es[i].code < es[j].code
	})
	level = es[0].level
	var msgs []string
	for _, e := range es {
		if e.level != level {
			break
		}
		m := e.message
		if m == "" {
			m = e.code
		}
		if m != "" {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return level, level
	}
	return level, level + ": " + strings.Join(msgs, "; ")
}

// errUnavailable is the Err of an UNAVAILABLE point.
var errUnavailable = errors.New("agent reports UNAVAILABLE")

// sample builds the Sample of item it for a point of type t.
func (l *latest) sample(it dataItem, t drivers.Type) drivers.Sample {
	s := drivers.Sample{Time: l.time}
	if l.cond != nil {
		level, text := l.cond.text()
		switch level {
		case "Normal":
		case "Warning":
			s.Quality, s.Err = drivers.Uncertain, fmt.Errorf("condition %s: %s", it.ID, text)
		case "Unavailable":
			s.Quality, s.Err = drivers.BadNoCommunication, fmt.Errorf("condition %s: %w", it.ID, errUnavailable)
		default: // Fault
			s.Quality, s.Err = drivers.BadDeviceFailure, fmt.Errorf("condition %s: %s", it.ID, text)
		}
		if t != drivers.String && t != drivers.Invalid {
			return drivers.Sample{Time: l.time, Quality: drivers.BadTypeMismatch,
				Err: fmt.Errorf("id:%s is a CONDITION (a string), the tag's type is %s", it.ID, t)}
		}
		s.Value = text
		return s
	}
	if l.value == "UNAVAILABLE" {
		s.Quality, s.Err = drivers.BadNoCommunication, fmt.Errorf("id:%s: %w", it.ID, errUnavailable)
		return s
	}
	if t == drivers.Invalid {
		t = defaultType(it)
	}
	v, err := convert(l.value, t)
	if err != nil {
		s.Quality, s.Err = drivers.BadTypeMismatch, fmt.Errorf("id:%s: %w", it.ID, err)
		return s
	}
	s.Value = v
	return s
}

// convert turns an agent value into the Go value of type t.
func convert(v string, t drivers.Type) (any, error) {
	v = strings.TrimSpace(v)
	switch t {
	case drivers.String:
		return v, nil
	case drivers.Bool:
		switch strings.ToUpper(v) {
		case "TRUE", "ON", "1", "YES", "ACTIVE", "ARMED", "TRIGGERED", "ENGAGED":
			return true, nil
		case "FALSE", "OFF", "0", "NO", "INACTIVE", "NOT_ENGAGED":
			return false, nil
		}
		return nil, fmt.Errorf("value %q is not a bool", v)
	case drivers.Float64, drivers.Float32:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a number", v)
		}
		if t == drivers.Float32 {
			return float32(f), nil
		}
		return f, nil
	case drivers.Int16, drivers.Uint16, drivers.Int32, drivers.Uint32, drivers.Int64, drivers.Uint64:
		return convertInt(v, t)
	}
	return nil, fmt.Errorf("type %s is not supported by mtconnect", t)
}

func convertInt(v string, t drivers.Type) (any, error) {
	var lo, hi float64
	switch t {
	case drivers.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case drivers.Uint16:
		lo, hi = 0, math.MaxUint16
	case drivers.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	case drivers.Uint32:
		lo, hi = 0, math.MaxUint32
	case drivers.Int64:
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return i, nil
		}
		lo, hi = math.MinInt64, math.MaxInt64
	case drivers.Uint64:
		if u, err := strconv.ParseUint(v, 10, 64); err == nil {
			return u, nil
		}
		lo, hi = 0, math.MaxUint64
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != math.Trunc(f) {
		return nil, fmt.Errorf("value %q is not an integer", v)
	}
	// float64(MaxInt64) rounds up to 2^63, so the 64-bit upper bounds are exclusive.
	if f < lo || f > hi || (f == hi && (t == drivers.Int64 || t == drivers.Uint64)) {
		return nil, fmt.Errorf("value %q is out of range for %s", v, t)
	}
	switch t {
	case drivers.Int16:
		return int16(f), nil
	case drivers.Uint16:
		return uint16(f), nil
	case drivers.Int32:
		return int32(f), nil
	case drivers.Uint32:
		return uint32(f), nil
	case drivers.Int64:
		return int64(f), nil
	}
	return uint64(f), nil
}
