package mapping

import (
	"math"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// rawOf builds a raw value of type typ from random bits.
func rawOf(typ drivers.Type, bits uint64) any {
	switch typ {
	case drivers.Bool:
		return bits&1 == 1
	case drivers.Int16:
		return int16(bits)
	case drivers.Uint16:
		return uint16(bits)
	case drivers.BCD16:
		return uint16(bits % 10000)
	case drivers.Int32:
		return int32(bits)
	case drivers.Uint32:
		return uint32(bits)
	case drivers.BCD32:
		return uint32(bits % 100000000)
	case drivers.Int64:
		return int64(bits)
	case drivers.Uint64:
		return bits
	case drivers.Float32:
		return math.Float32frombits(uint32(bits))
	case drivers.Float64:
		return math.Float64frombits(bits)
	case drivers.String:
		return string([]byte{byte(bits), byte(bits >> 8)})
	}
	return nil
}

// FuzzDecode: Decode never panics on any raw value, scale, policy or
// deadband; for scaled numeric tags Encode(Decode(x)) gives x back within
// float tolerance (or a BadOutOfRange where the float64 path cannot hold
// the raw type's extremes).
func FuzzDecode(f *testing.F) {
	f.Add(uint8(1), uint64(12345), 0.1, -40.0, uint8(1), false, 0.0, uint8(0), uint8(0))
	f.Add(uint8(7), uint64(math.MaxUint64), 1e-3, 0.0, uint8(1), false, 1.0, uint8(0), uint8(0))
	f.Add(uint8(8), math.Float64bits(math.NaN()), 2.0, 1.0, uint8(1), false, 0.0, uint8(1), uint8(1))
	f.Add(uint8(2), uint64(60000), 0.0, 0.0, uint8(2), true, 0.0, uint8(2), uint8(3))
	f.Add(uint8(9), uint64(0x7FF0000000000000), 1.0, 0.0, uint8(0), false, 5.0, uint8(2), uint8(2))
	f.Add(uint8(10), uint64(0x4142), 1.0, 0.0, uint8(0), false, 0.0, uint8(0), uint8(4))
	f.Fuzz(func(t *testing.T, kind uint8, bits uint64, gain, offset float64, form uint8, clamp bool, db float64, policy uint8, srcType uint8) {
		typ := drivers.Type(1 + kind%12)
		tag := newTag(typ, nil)
		tag.NaN = [...]string{NaNBad, NaNZero, NaNKeep}[policy%3]
		if typ.Numeric() {
			switch form % 3 {
			case 1:
				if finite(gain) && finite(offset) && math.Abs(gain) >= 1e-6 && math.Abs(gain) <= 1e6 && math.Abs(offset) <= 1e9 {
					tag = newTag(typ, &Scale{Gain: gain, Offset: offset})
				}
			case 2:
				tag = newTag(typ, rangeScale(0, 27648, -50, 150, clamp))
			}
			tag.NaN = [...]string{NaNBad, NaNZero, NaNKeep}[policy%3]
			if finite(db) && db > 0 {
				tag.Deadband.Absolute = db
			}
		}
		raw := rawOf(typ, bits)
		if srcType%5 == 4 { // a driver returning another Go type
			raw = rawOf(drivers.Type(1+(srcType/5)%12), bits)
		}
		now := time.Unix(0, 0)
		for i := range 2 { // second round exercises the deadband path
			v, pub := tag.Decode(drivers.Sample{Value: raw, Quality: drivers.Good, Time: now}, now)
			if pub {
				tag.Entry.Set(v)
			}
			if i == 0 && !pub {
				t.Fatalf("first value not published: %+v", v)
			}
		}
		v := tag.Entry.Load()
		if v.Quality != drivers.Good || v.V == nil {
			return
		}
		if !tag.Type.Holds(v.V) {
			t.Fatalf("value %T for a %s tag", v.V, tag.Type)
		}
		if tag.Scale == nil || !typ.Holds(raw) {
			return // round trip only for values of the declared raw type
		}
		back, err := tag.Encode(v.V)
		rf, _ := toFloat(raw)
		if !finite(rf) || !finite(rf*tag.Scale.Gain+tag.Scale.Offset) {
			return // the NaN policy replaced the value
		}
		if err != nil {
			if quality(err) != drivers.BadOutOfRange {
				t.Fatalf("Encode(%v): %v", v.V, err)
			}
			lo, hi, isInt := intRange(typ)
			near := isInt && (math.Abs(rf-float64(lo)) < 1e-9*math.Abs(rf)+2 || math.Abs(rf-float64(hi)) <= 1e-9*math.Abs(rf)+2)
			if !near && typ != drivers.Float32 && typ != drivers.Float64 {
				t.Fatalf("Encode(Decode(%v)) = %v out of range", raw, v.V)
			}
			return
		}
		bf, _ := toFloat(back)
		tol := 1e-9*(math.Abs(rf)+math.Abs(tag.Scale.Offset/tag.Scale.Gain)) + 1e-300
		if typ == drivers.Float32 {
			tol += 1e-6 * math.Abs(rf)
		}
		if typ != drivers.Float32 && typ != drivers.Float64 {
			tol += 1 // rounding to the nearest integer
		}
		if math.Abs(bf-rf) > tol {
			t.Fatalf("%s raw %v -> eng %v -> raw %v (tol %g)", typ, raw, v.V, back, tol)
		}
	})
}
