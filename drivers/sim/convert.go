package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tagbridge/tagbridge/drivers"
)

// Integer ranges as float64 bounds. 2^63 and 2^64 are exact in float64;
// MaxInt64 and MaxUint64 are not, so the upper tests use >= on the power.
const (
	two63 = 9223372036854775808.0
	two64 = 18446744073709551616.0
)

// typeMax is where a counter wraps by default: the largest value of t (at
// most 2^53, the last integer a float64 counts exactly; 2^24 for float32).
func typeMax(t drivers.Type) float64 {
	switch t {
	case drivers.Bool:
		return 1
	case drivers.Int16:
		return math.MaxInt16
	case drivers.Uint16:
		return math.MaxUint16
	case drivers.Int32:
		return math.MaxInt32
	case drivers.Uint32:
		return math.MaxUint32
	case drivers.BCD16:
		return 9999
	case drivers.BCD32:
		return 99999999
	case drivers.Float32:
		return 1 << 24
	}
	return 1 << 53
}

// fromFloat converts a signal value to the Go type of t: integers are
// rounded and saturated, bool is v != 0, string is the shortest decimal.
// ok is false only for NaN into a type that cannot hold it.
func fromFloat(v float64, t drivers.Type) (any, bool) {
	if math.IsNaN(v) && t != drivers.Float32 && t != drivers.Float64 && t != drivers.String {
		return nil, false
	}
	switch t {
	case drivers.Bool:
		return v != 0, true
	case drivers.Int16:
		return int16(clampRound(v, math.MinInt16, math.MaxInt16)), true
	case drivers.Uint16:
		return uint16(clampRound(v, 0, math.MaxUint16)), true
	case drivers.BCD16:
		return uint16(clampRound(v, 0, 9999)), true
	case drivers.Int32:
		return int32(clampRound(v, math.MinInt32, math.MaxInt32)), true
	case drivers.Uint32:
		return uint32(clampRound(v, 0, math.MaxUint32)), true
	case drivers.BCD32:
		return uint32(clampRound(v, 0, 99999999)), true
	case drivers.Int64:
		r := math.Round(v)
		switch {
		case r >= two63:
			return int64(math.MaxInt64), true
		case r < -two63:
			return int64(math.MinInt64), true
		}
		return int64(r), true
	case drivers.Uint64:
		r := math.Round(v)
		switch {
		case r >= two64:
			return uint64(math.MaxUint64), true
		case r <= 0:
			return uint64(0), true
		}
		return uint64(r), true
	case drivers.Float32:
		return float32(v), true
	case drivers.Float64:
		return v, true
	case drivers.String:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	}
	return nil, false
}

func clampRound(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, math.Round(v)))
}

// parseLiteral parses a const value or a memory initial value for type t.
// Unlike signal values, literals are exact: a whole number in range for an
// integer type, true/false (or a number, != 0) for bool.
func parseLiteral(s string, t drivers.Type) (any, error) {
	if t == drivers.String {
		return s, nil
	}
	ts := strings.TrimSpace(s)
	if t == drivers.Bool {
		if b, err := strconv.ParseBool(ts); err == nil {
			return b, nil
		}
		if f, err := strconv.ParseFloat(ts, 64); err == nil && !math.IsNaN(f) {
			return f != 0, nil
		}
		return nil, fmt.Errorf("%q is not a bool (want true, false, 1 or 0)", s)
	}
	if t == drivers.Float32 || t == drivers.Float64 {
		f, err := strconv.ParseFloat(ts, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number (type %s)", s, t)
		}
		v, _, cerr := coerce(f, t)
		return v, cerr
	}
	// Integers: parse exactly first (64-bit values do not survive float64),
	// then accept a whole float such as 42.0 or 1e3.
	if i, err := strconv.ParseInt(ts, 0, 64); err == nil {
		v, _, cerr := coerce(i, t)
		return v, cerr
	}
	if u, err := strconv.ParseUint(ts, 0, 64); err == nil {
		v, _, cerr := coerce(u, t)
		return v, cerr
	}
	if f, err := strconv.ParseFloat(ts, 64); err == nil {
		v, _, cerr := coerce(f, t)
		return v, cerr
	}
	return nil, fmt.Errorf("%q is not a number (type %s)", s, t)
}

// coerce converts a written value to the Go type of t without losing
// information: any Go number that fits exactly is accepted, so that a
// caller holding an int64 or a whole float64 can write an int16 tag. The
// Quality says why a value is refused (BadTypeMismatch or BadOutOfRange).
func coerce(v any, t drivers.Type) (any, drivers.Quality, error) {
	mismatch := func() (any, drivers.Quality, error) {
		return nil, drivers.BadTypeMismatch, fmt.Errorf("cannot write %T %v to a %s", v, v, t)
	}
	outOfRange := func() (any, drivers.Quality, error) {
		return nil, drivers.BadOutOfRange, fmt.Errorf("%v is out of range for %s", v, t)
	}
	switch t {
	case drivers.Bool:
		if b, ok := v.(bool); ok {
			return b, drivers.Good, nil
		}
		return mismatch()
	case drivers.String:
		if s, ok := v.(string); ok {
			return s, drivers.Good, nil
		}
		return mismatch()
	}
	var (
		f        float64 // the value as a float
		isInt    bool
		i64      int64
		u64      uint64
		unsigned bool
	)
	switch x := v.(type) {
	case int:
		i64, isInt = int64(x), true
	case int8:
		i64, isInt = int64(x), true
	case int16:
		i64, isInt = int64(x), true
	case int32:
		i64, isInt = int64(x), true
	case int64:
		i64, isInt = x, true
	case uint:
		u64, isInt, unsigned = uint64(x), true, true
	case uint8:
		u64, isInt, unsigned = uint64(x), true, true
	case uint16:
		u64, isInt, unsigned = uint64(x), true, true
	case uint32:
		u64, isInt, unsigned = uint64(x), true, true
	case uint64:
		u64, isInt, unsigned = x, true, true
	case float32:
		f = float64(x)
	case float64:
		f = x
	default:
		return mismatch()
	}
	if isInt {
		if unsigned {
			f = float64(u64)
		} else {
			f = float64(i64)
		}
	}
	switch t {
	case drivers.Float64:
		return f, drivers.Good, nil
	case drivers.Float32:
		if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return outOfRange()
		}
		return float32(f), drivers.Good, nil
	}
	// Integer targets.
	if !isInt {
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, drivers.BadTypeMismatch, fmt.Errorf("%v is not a whole number (type %s)", v, t)
		}
		switch {
		case f >= two64 || f < -two63:
			return outOfRange()
		case f < 0:
			i64 = int64(f)
		default:
			u64, unsigned = uint64(f), true
		}
	}
	// Now the value is exactly i64 (signed, maybe negative) or u64.
	var lo int64
	var hi uint64
	switch t {
	case drivers.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case drivers.Uint16:
		lo, hi = 0, math.MaxUint16
	case drivers.BCD16:
		lo, hi = 0, 9999
	case drivers.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	case drivers.Uint32:
		lo, hi = 0, math.MaxUint32
	case drivers.BCD32:
		lo, hi = 0, 99999999
	case drivers.Int64:
		lo, hi = math.MinInt64, math.MaxInt64
	case drivers.Uint64:
		lo, hi = 0, math.MaxUint64
	default:
		return mismatch()
	}
	if unsigned {
		if u64 > hi {
			return outOfRange()
		}
		i64 = int64(u64) // fits: hi <= MaxInt64 unless t is Uint64, handled below
		if t == drivers.Uint64 {
			return u64, drivers.Good, nil
		}
	} else if i64 < lo || (i64 >= 0 && uint64(i64) > hi) {
		return outOfRange()
	}
	switch t {
	case drivers.Int16:
		return int16(i64), drivers.Good, nil
	case drivers.Uint16, drivers.BCD16:
		return uint16(i64), drivers.Good, nil
	case drivers.Int32:
		return int32(i64), drivers.Good, nil
	case drivers.Uint32, drivers.BCD32:
		return uint32(i64), drivers.Good, nil
	case drivers.Int64:
		return i64, drivers.Good, nil
	}
	return uint64(i64), drivers.Good, nil // Uint64 from a non-negative signed value
}
