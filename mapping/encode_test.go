package mapping

import (
	"errors"
	"math"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func quality(err error) drivers.Quality {
	var qe *drivers.QualityError
	if errors.As(err, &qe) {
		return qe.Quality
	}
	return drivers.Good
}

func TestEncode(t *testing.T) {
	t.Parallel()
	str := newTag(drivers.String, nil)
	str.Addr.Length = 4
	ro := newTag(drivers.Int16, nil)
	ro.Access = Read
	status := newTag(drivers.Bool, nil)
	status.Status = true
	clamped := newTag(drivers.Int16, rangeScale(0, 27648, 0, 100, true))
	open := newTag(drivers.Int16, rangeScale(0, 27648, 0, 100, false))
	cases := []struct {
		name string
		tag  *Tag
		in   any
		want any
		q    drivers.Quality
	}{
		{"int32 exact", newTag(drivers.Int32, nil), int32(-5), int32(-5), drivers.Good},
		{"int32 from int64", newTag(drivers.Int32, nil), int64(5), nil, drivers.BadTypeMismatch},
		{"int32 from float64", newTag(drivers.Int32, nil), 5.0, nil, drivers.BadTypeMismatch},
		{"uint64", newTag(drivers.Uint64, nil), uint64(math.MaxUint64), uint64(math.MaxUint64), drivers.Good},
		{"bool", newTag(drivers.Bool, nil), true, true, drivers.Good},
		{"bool from int", newTag(drivers.Bool, nil), 1, nil, drivers.BadTypeMismatch},
		{"float32", newTag(drivers.Float32, nil), float32(1.5), float32(1.5), drivers.Good},
		{"string fits", str, "abcd", "abcd", drivers.Good},
		{"string too long", str, "abcde", nil, drivers.BadOutOfRange},
		{"string from bytes", str, []byte("a"), nil, drivers.BadTypeMismatch},
		{"nil", newTag(drivers.Int16, nil), nil, nil, drivers.BadTypeMismatch},
		{"bcd16", newTag(drivers.BCD16, nil), uint16(9999), uint16(9999), drivers.Good},
		{"bcd16 too big", newTag(drivers.BCD16, nil), uint16(10000), nil, drivers.BadOutOfRange},
		{"bcd32 too big", newTag(drivers.BCD32, nil), uint32(100000000), nil, drivers.BadOutOfRange},
		{"read-only", ro, int16(1), nil, drivers.BadNotWritable},
		{"status", status, true, nil, drivers.BadNotWritable},
		{"scaled", open, 50.0, int16(13824), drivers.Good},
		{"scaled rounds", open, 50.002, int16(13825), drivers.Good},
		{"scaled wants float64", open, float32(50), nil, drivers.BadTypeMismatch},
		{"scaled int", open, int16(50), nil, drivers.BadTypeMismatch},
		{"scaled over raw range", open, 200.0, nil, drivers.BadOutOfRange},
		{"scaled under raw range", open, -200.0, nil, drivers.BadOutOfRange},
		{"scaled NaN", open, math.NaN(), nil, drivers.BadOutOfRange},
		{"clamped in range", clamped, 100.0, int16(27648), drivers.Good},
		{"clamped over eng", clamped, 100.5, nil, drivers.BadOutOfRange},
		{"clamped under eng", clamped, -0.5, nil, drivers.BadOutOfRange},
		{"gain offset", newTag(drivers.Uint16, &Scale{Gain: 0.1, Offset: -40}), 20.0, uint16(600), drivers.Good},
		{"negative to unsigned", newTag(drivers.Uint16, &Scale{Gain: 1}), -1.0, nil, drivers.BadOutOfRange},
		{"uint64 max edge", newTag(drivers.Uint64, &Scale{Gain: 1}), 18446744073709551616.0, nil, drivers.BadOutOfRange},
		{"float32 range", newTag(drivers.Float32, &Scale{Gain: 1e-30}), 1e10, nil, drivers.BadOutOfRange},
		{"float32 scaled", newTag(drivers.Float32, &Scale{Gain: 2, Offset: 1}), 4.0, float32(1.5), drivers.Good},
		{"bcd scaled", newTag(drivers.BCD16, &Scale{Gain: 0.01}), 100.0, nil, drivers.BadOutOfRange},
		{"bcd scaled ok", newTag(drivers.BCD16, &Scale{Gain: 0.01}), 99.99, uint16(9999), drivers.Good},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.tag.Encode(tc.in)
			if q := quality(err); q != tc.q || got != tc.want {
				t.Fatalf("Encode(%T %v) = %T %v, %v (%v); want %v %v", tc.in, tc.in, got, got, q, err, tc.want, tc.q)
			}
			if err != nil && err.Error() == "" {
				t.Error("empty error text")
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw   drivers.Type
		scale *Scale
		raws  []any
	}{
		{drivers.Int16, rangeScale(0, 27648, 0, 100, true), []any{int16(0), int16(1), int16(13824), int16(27647), int16(27648)}},
		{drivers.Int16, &Scale{Gain: 0.1, Offset: -40}, []any{int16(math.MinInt16), int16(-1), int16(0), int16(math.MaxInt16)}},
		{drivers.Uint16, rangeScale(4000, 20000, 0, 10, false), []any{uint16(0), uint16(4000), uint16(12345), uint16(math.MaxUint16)}},
		{drivers.Int32, &Scale{Gain: 0.001, Offset: 5}, []any{int32(math.MinInt32), int32(-77), int32(math.MaxInt32)}},
		{drivers.Uint32, &Scale{Gain: 3}, []any{uint32(0), uint32(math.MaxUint32)}},
		{drivers.Int64, &Scale{Gain: 0.5}, []any{int64(-1 << 52), int64(1 << 52)}},
		{drivers.BCD32, &Scale{Gain: 0.01}, []any{uint32(0), uint32(99999999)}},
		{drivers.Float32, &Scale{Gain: 1.8, Offset: 32}, []any{float32(-40), float32(21.7), float32(1e30)}},
		{drivers.Float64, &Scale{Gain: -2.5, Offset: 1}, []any{-1e300, 0.0, 123.456}},
	}
	for _, tc := range cases {
		tag := newTag(tc.raw, tc.scale)
		for _, raw := range tc.raws {
			v, _ := tag.Decode(good(raw), t0)
			back, err := tag.Encode(v.V)
			if err != nil {
				t.Errorf("%s %v: eng %v: %v", tc.raw, raw, v.V, err)
				continue
			}
			a, _ := toFloat(raw)
			b, _ := toFloat(back)
			if math.Abs(a-b) > 1e-6*math.Abs(a) {
				t.Errorf("%s: %v -> %v -> %v", tc.raw, raw, v.V, back)
			}
		}
	}
}
