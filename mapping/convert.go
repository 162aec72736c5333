package mapping

import (
	"math"

	"github.com/tagbridge/tagbridge/drivers"
)

// toFloat returns any Go number as float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint16:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint:
		return float64(x), true
	}
	return 0, false
}

// toInt returns an integer Go value exactly: as int64 when it fits, else as
// uint64 (big is true).
func toInt(v any) (i int64, u uint64, big, ok bool) {
	switch x := v.(type) {
	case int16:
		return int64(x), 0, false, true
	case uint16:
		return int64(x), 0, false, true
	case int32:
		return int64(x), 0, false, true
	case uint32:
		return int64(x), 0, false, true
	case int64:
		return x, 0, false, true
	case int:
		return int64(x), 0, false, true
	case int8:
		return int64(x), 0, false, true
	case uint8:
		return int64(x), 0, false, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, x, true, true
		}
		return int64(x), 0, false, true
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, uint64(x), true, true
		}
		return int64(x), 0, false, true
	}
	return 0, 0, false, false
}

// intRange is the value range of an integer type (BCD: its decimal digits).
func intRange(t drivers.Type) (lo int64, hi uint64, ok bool) {
	switch t {
	case drivers.Int16:
		return math.MinInt16, math.MaxInt16, true
	case drivers.Uint16:
		return 0, math.MaxUint16, true
	case drivers.BCD16:
		return 0, 9999, true
	case drivers.Int32:
		return math.MinInt32, math.MaxInt32, true
	case drivers.Uint32:
		return 0, math.MaxUint32, true
	case drivers.BCD32:
		return 0, 99999999, true
	case drivers.Int64:
		return math.MinInt64, math.MaxInt64, true
	case drivers.Uint64:
		return 0, math.MaxUint64, true
	}
	return 0, 0, false
}

// fromInt converts an exact integer to the Go type of t; ok is false when
// it is out of t's range.
func fromInt(i int64, u uint64, big bool, t drivers.Type) (any, bool) {
	if t == drivers.Float32 {
		if big {
			return float32(u), true
		}
		return float32(i), true
	}
	if t == drivers.Float64 {
		if big {
			return float64(u), true
		}
		return float64(i), true
	}
	lo, hi, ok := intRange(t)
	if !ok {
		return nil, false
	}
	if big {
		if u > hi {
			return nil, false
		}
		return uint64(u), true // only Uint64 has hi > MaxInt64
	}
	if i < lo || (i > 0 && uint64(i) > hi) {
		return nil, false
	}
	return intAs(i, t), true
}

func intAs(i int64, t drivers.Type) any {
	switch t {
	case drivers.Int16:
		return int16(i)
	case drivers.Uint16, drivers.BCD16:
		return uint16(i)
	case drivers.Int32:
		return int32(i)
	case drivers.Uint32, drivers.BCD32:
		return uint32(i)
	case drivers.Int64:
		return i
	case drivers.Uint64:
		return uint64(i)
	}
	return nil
}

// 2^63 and 2^64 are exact in float64; the integer ranges are half-open there.
const (
	two63 = 9223372036854775808.0
	two64 = 18446744073709551616.0
)

// fromFloat converts f to the Go type of t, rounding to the nearest integer
// for integer types; ok is false when f is not finite or out of t's range.
func fromFloat(f float64, t drivers.Type) (any, bool) {
	switch t {
	case drivers.Float64:
		return f, true
	case drivers.Float32:
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return float32(f), true
		}
		if math.Abs(f) > math.MaxFloat32 {
			return nil, false
		}
		return float32(f), true
	}
	if !finite(f) {
		return nil, false
	}
	r := math.Round(f)
	switch t {
	case drivers.Int64:
		if r < -two63 || r >= two63 {
			return nil, false
		}
		return int64(r), true
	case drivers.Uint64:
		if r < 0 || r >= two64 {
			return nil, false
		}
		return uint64(r), true
	}
	lo, hi, ok := intRange(t)
	if !ok || r < float64(lo) || r > float64(hi) {
		return nil, false
	}
	return intAs(int64(r), t), true
}

// coerce converts a driver value of an unexpected Go type to the Go type of
// t. It returns BadTypeMismatch or BadOutOfRange when it cannot.
func coerce(v any, t drivers.Type) (any, drivers.Quality) {
	if t.Holds(v) {
		return v, drivers.Good
	}
	switch t {
	case drivers.Bool:
		if f, ok := toFloat(v); ok {
			return f != 0, drivers.Good
		}
		return nil, drivers.BadTypeMismatch
	case drivers.String:
		return nil, drivers.BadTypeMismatch
	}
	if i, u, big, ok := toInt(v); ok {
		if out, ok := fromInt(i, u, big, t); ok {
			return out, drivers.Good
		}
		return nil, drivers.BadOutOfRange
	}
	if f, ok := toFloat(v); ok {
		if out, ok := fromFloat(f, t); ok {
			return out, drivers.Good
		}
		return nil, drivers.BadOutOfRange
	}
	if b, ok := v.(bool); ok && t.Numeric() {
		if b {
			return intOrFloat(1, t), drivers.Good
		}
		return t.Zero(), drivers.Good
	}
	return nil, drivers.BadTypeMismatch
}

func intOrFloat(i int64, t drivers.Type) any {
	out, _ := fromInt(i, 0, false, t)
	return out
}

// changed reports whether cur differs from old by more than thr. Values of
// different Go types always differ. Integers are compared without
// wraparound (|a-b| of two uint64 or int64 is computed exactly).
func changed(old, cur any, thr float64) bool {
	switch c := cur.(type) {
	case float64:
		o, ok := old.(float64)
		return !ok || floatChanged(o, c, thr)
	case float32:
		o, ok := old.(float32)
		return !ok || floatChanged(float64(o), float64(c), thr)
	case int16:
		o, ok := old.(int16)
		return !ok || math.Abs(float64(c)-float64(o)) > thr
	case uint16:
		o, ok := old.(uint16)
		return !ok || math.Abs(float64(c)-float64(o)) > thr
	case int32:
		o, ok := old.(int32)
		return !ok || math.Abs(float64(c)-float64(o)) > thr
	case uint32:
		o, ok := old.(uint32)
		return !ok || math.Abs(float64(c)-float64(o)) > thr
	case int64:
		o, ok := old.(int64)
		if !ok {
			return true
		}
		var d uint64 // two's complement difference is exact modulo 2^64, and |c-o| < 2^64
		if c >= o {
			d = uint64(c) - uint64(o)
		} else {
			d = uint64(o) - uint64(c)
		}
		return uintChanged(d, thr)
	case uint64:
		o, ok := old.(uint64)
		if !ok {
			return true
		}
		d := c - o
		if o > c {
			d = o - c
		}
		return uintChanged(d, thr)
	case bool:
		o, ok := old.(bool)
		return !ok || o != c
	case string:
		o, ok := old.(string)
		return !ok || o != c
	}
	return true
}

func uintChanged(d uint64, thr float64) bool {
	if thr <= 0 {
		return d != 0
	}
	return float64(d) > thr
}

func floatChanged(o, c, thr float64) bool {
	if !finite(o) || !finite(c) {
		// NaN never equals itself; a NaN kept by policy must still not
		// republish every scan.
		return math.Float64bits(o) != math.Float64bits(c) && !(math.IsNaN(o) && math.IsNaN(c))
	}
	return math.Abs(c-o) > thr
}

// inUint reports whether v is an integer in [0, hi].
func inUint(v any, hi uint64) bool {
	i, u, big, ok := toInt(v)
	if !ok {
		return false
	}
	if big {
		return u <= hi
	}
	return i >= 0 && uint64(i) <= hi
}
