package mapping

import (
	"fmt"
	"math"

	"github.com/tagbridge/tagbridge/drivers"
)

// Encode turns an engineering value written by a client into the raw value
// for drivers.Writer, in the Go type of t.Addr.Type (BCD: uint16/uint32
// holding the decimal value).
//
// Unscaled tags take exactly the Go type of t.Type (an int32 for an int32
// tag); scaled tags take a float64, inversely scaled and rounded to the
// nearest integer for integer raw types. Errors are *drivers.QualityError:
// BadNotWritable (read-only or status tag), BadTypeMismatch (wrong Go type),
// BadOutOfRange (outside the eng range of a clamped scale, outside the raw
// type's range, a BCD value with too many digits, a string longer than
// length, NaN/Inf for a scaled tag).
func (t *Tag) Encode(v any) (any, error) {
	if t.Status || t.Access != ReadWrite {
		return nil, qerr(drivers.BadNotWritable, "%s is read-only", t.Path)
	}
	raw := t.Addr.Type
	if t.Scale == nil {
		if !t.Type.Holds(v) {
			return nil, qerr(drivers.BadTypeMismatch, "%s: write of %s, want %s", t.Path, goTypeName(v), t.Type)
		}
		switch raw {
		case drivers.BCD16, drivers.BCD32:
			_, hi, _ := intRange(raw)
			if u, _ := toFloat(v); u > float64(hi) {
				return nil, qerr(drivers.BadOutOfRange, "%s: %v does not fit %s (max %d)", t.Path, v, raw, hi)
			}
		case drivers.String:
			if s := v.(string); t.Addr.Length > 0 && len(s) > t.Addr.Length {
				return nil, qerr(drivers.BadOutOfRange, "%s: string of %d bytes, the tag holds %d", t.Path, len(s), t.Addr.Length)
			}
		}
		return v, nil
	}
	f, ok := v.(float64)
	if !ok {
		return nil, qerr(drivers.BadTypeMismatch, "%s: write of %s, want float64 (scaled tag)", t.Path, goTypeName(v))
	}
	if !finite(f) {
		return nil, qerr(drivers.BadOutOfRange, "%s: %v is not a finite number", t.Path, f)
	}
	if t.Scale.Clamp && (f < t.Scale.EngLow || f > t.Scale.EngHigh) {
		return nil, qerr(drivers.BadOutOfRange, "%s: %g outside the engineering range [%g, %g]", t.Path, f, t.Scale.EngLow, t.Scale.EngHigh)
	}
	r := (f - t.Scale.Offset) / t.Scale.Gain
	out, ok := fromFloat(r, raw)
	if !ok || (raw == drivers.Float32 && math.IsInf(float64(out.(float32)), 0)) {
		return nil, qerr(drivers.BadOutOfRange, "%s: %g scales to raw %g, outside %s", t.Path, f, r, raw)
	}
	return out, nil
}

func qerr(q drivers.Quality, format string, args ...any) error {
	return &drivers.QualityError{Quality: q, Err: fmt.Errorf(format, args...)}
}

func goTypeName(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}
