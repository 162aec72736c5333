package mapping

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newTag builds a tag directly (not through Compile) with its own Entry.
func newTag(raw drivers.Type, scale *Scale) *Tag {
	t := &Tag{Path: "d/x", Addr: drivers.Address{Tag: "d/x", Type: raw}, Type: engType(raw), Scale: scale, NaN: NaNBad,
		Access: ReadWrite, Entry: NewStore().Entry("d/x")}
	if scale != nil {
		t.Type = drivers.Float64
		if scale.HasRange || scale.Clamp {
			t.Range = &[2]float64{scale.EngLow, scale.EngHigh}
		}
	}
	return t
}

func good(v any) drivers.Sample { return drivers.Sample{Value: v, Quality: drivers.Good, Time: t0} }

// rangeScale is the raw/eng form as Compile builds it.
func rangeScale(rlo, rhi, elo, ehi float64, clamp bool) *Scale {
	g := (ehi - elo) / (rhi - rlo)
	lo, hi := minmax(elo, ehi)
	return &Scale{Gain: g, Offset: elo - rlo*g, Clamp: clamp, EngLow: lo, EngHigh: hi, RawLow: rlo, RawHigh: rhi, HasRange: true}
}

func TestDecodeScaling(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		raw   drivers.Type
		scale *Scale
		in    any
		want  float64
		q     drivers.Quality
	}{
		{"range int16", drivers.Int16, rangeScale(0, 27648, 0, 100, false), int16(13824), 50, drivers.Good},
		{"range 4-20mA", drivers.Uint16, rangeScale(4000, 20000, 0, 10, false), uint16(12000), 5, drivers.Good},
		{"range inverted", drivers.Uint16, rangeScale(0, 1000, 100, 0, false), uint16(250), 75, drivers.Good},
		{"range unclamped over", drivers.Int16, rangeScale(0, 27648, 0, 100, false), int16(32767), 32767 * 100.0 / 27648, drivers.Good},
		{"clamp high", drivers.Int16, rangeScale(0, 27648, 0, 100, true), int16(32767), 100, drivers.UncertainEngineeringUnitsExceeded},
		{"clamp low", drivers.Int16, rangeScale(0, 27648, 0, 100, true), int16(-5), 0, drivers.UncertainEngineeringUnitsExceeded},
		{"clamp inverted", drivers.Uint16, rangeScale(0, 1000, 100, 0, true), uint16(2000), 0, drivers.UncertainEngineeringUnitsExceeded},
		{"clamp edge is good", drivers.Int16, rangeScale(0, 27648, 0, 100, true), int16(27648), 100, drivers.Good},
		{"gain offset", drivers.Int16, &Scale{Gain: 0.1, Offset: -40}, int16(-123), -52.3, drivers.Good},
		{"gain float32", drivers.Float32, &Scale{Gain: 2, Offset: 1}, float32(1.5), 4, drivers.Good},
		{"gain uint64", drivers.Uint64, &Scale{Gain: 1e-3}, uint64(math.MaxUint64), float64(math.MaxUint64) * 1e-3, drivers.Good},
		{"bcd", drivers.BCD16, &Scale{Gain: 0.01}, uint16(9999), 99.99, drivers.Good},
		{"uncertain kept", drivers.Int16, &Scale{Gain: 1}, int16(3), 3, drivers.Uncertain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := newTag(tc.raw, tc.scale)
			s := good(tc.in)
			if tc.q == drivers.Uncertain {
				s.Quality = drivers.Uncertain
			}
			now := t0.Add(time.Second)
			v, pub := tag.Decode(s, now)
			if !pub {
				t.Fatal("first value not published")
			}
			f, ok := v.V.(float64)
			if !ok || math.Abs(f-tc.want) > 1e-9*math.Max(1, math.Abs(tc.want)) || v.Quality != tc.q {
				t.Fatalf("got %T %v %v, want %v %v", v.V, v.V, v.Quality, tc.want, tc.q)
			}
			if !v.Source.Equal(t0) || !v.Server.Equal(now) {
				t.Errorf("timestamps %v %v", v.Source, v.Server)
			}
		})
	}
}

func TestDecodeUnscaled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  drivers.Type
		in   any
		want any
		q    drivers.Quality
	}{
		{drivers.Int16, int16(-7), int16(-7), drivers.Good},
		{drivers.Bool, true, true, drivers.Good},
		{drivers.String, "ab", "ab", drivers.Good},
		{drivers.BCD16, uint16(1234), uint16(1234), drivers.Good},
		{drivers.BCD32, uint32(99999999), uint32(99999999), drivers.Good},
		{drivers.Uint64, uint64(math.MaxUint64), uint64(math.MaxUint64), drivers.Good},
		// a driver returning another Go type is converted when exact
		{drivers.Int32, int64(5), int32(5), drivers.Good},
		{drivers.Uint16, float64(7), uint16(7), drivers.Good},
		{drivers.Bool, uint16(1), true, drivers.Good},
		{drivers.Uint16, int32(-1), nil, drivers.BadOutOfRange},
		{drivers.Int16, "x", nil, drivers.BadTypeMismatch},
		{drivers.String, 5, nil, drivers.BadTypeMismatch},
	}
	for _, tc := range cases {
		tag := newTag(tc.raw, nil)
		v, pub := tag.Decode(good(tc.in), t0)
		if !pub || v.V != tc.want || v.Quality != tc.q {
			t.Errorf("%s %T(%v): got %T(%v) %v pub=%v", tc.raw, tc.in, tc.in, v.V, v.V, v.Quality, pub)
		}
	}
}

func TestDecodeNaN(t *testing.T) {
	t.Parallel()
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name   string
		policy string
		raw    drivers.Type
		scale  *Scale
		in     any
		check  func(any) bool
		q      drivers.Quality
	}{
		{"bad", NaNBad, drivers.Float32, nil, float32(nan), func(v any) bool { return v == float32(1) }, drivers.BadOutOfRange},
		{"default is bad", "", drivers.Float64, nil, inf, func(v any) bool { return v == float64(1) }, drivers.BadOutOfRange},
		{"zero", NaNZero, drivers.Float32, nil, float32(nan), func(v any) bool { return v == float32(0) }, drivers.Good},
		{"keep", NaNKeep, drivers.Float64, nil, nan, func(v any) bool { return math.IsNaN(v.(float64)) }, drivers.Good},
		{"keep inf", NaNKeep, drivers.Float64, nil, inf, func(v any) bool { return math.IsInf(v.(float64), 1) }, drivers.Good},
		{"scaled bad", NaNBad, drivers.Float32, &Scale{Gain: 2}, float32(nan), func(v any) bool { return v == float64(2) }, drivers.BadOutOfRange},
		{"scaled zero", NaNZero, drivers.Float32, &Scale{Gain: 2, Offset: 5}, float32(inf), func(v any) bool { return v == float64(0) }, drivers.Good},
		{"scaled keep", NaNKeep, drivers.Float64, &Scale{Gain: 2}, nan, func(v any) bool { return math.IsNaN(v.(float64)) }, drivers.Good},
		{"scale overflow bad", NaNBad, drivers.Float64, &Scale{Gain: 1e300}, 1e300, func(v any) bool { return v == float64(1e300) }, drivers.BadOutOfRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := newTag(tc.raw, tc.scale)
			tag.NaN = tc.policy
			first := any(float64(1))
			if tc.raw == drivers.Float32 {
				first = float32(1)
			}
			if !tag.Publish(good(first), t0) {
				t.Fatal("first value not published")
			}
			before := tag.Entry.Load()
			v, pub := tag.Decode(drivers.Sample{Value: tc.in, Quality: drivers.Good, Time: t0.Add(time.Second)}, t0.Add(2*time.Second))
			if !pub || v.Quality != tc.q || !tc.check(v.V) {
				t.Fatalf("got %v %v pub=%v", v.V, v.Quality, pub)
			}
			if tc.q.IsBad() && (!v.Source.Equal(before.Source) || v.Err == "") {
				t.Errorf("bad NaN: source %v, err %q", v.Source, v.Err)
			}
			// a kept NaN does not republish every scan
			tag.Entry.Set(v)
			if _, pub := tag.Decode(drivers.Sample{Value: tc.in, Quality: drivers.Good, Time: t0.Add(3 * time.Second)}, t0.Add(3*time.Second)); pub {
				t.Error("same NaN published again")
			}
		})
	}
}

func TestDecodeDeadband(t *testing.T) {
	t.Parallel()
	type step struct {
		in  any
		pub bool
	}
	cases := []struct {
		name  string
		raw   drivers.Type
		scale *Scale
		rng   *[2]float64
		db    Deadband
		steps []step
	}{
		{"none: equal suppressed", drivers.Int32, nil, nil, Deadband{}, []step{{int32(1), true}, {int32(1), false}, {int32(2), true}}},
		{"absolute", drivers.Float64, nil, nil, Deadband{Absolute: 0.5}, []step{
			{10.0, true}, {10.4, false}, {10.5, false}, {10.51, true}, {10.2, false}, {9.9, true}}},
		{"absolute vs stored value, no creep", drivers.Float64, nil, nil, Deadband{Absolute: 1}, []step{
			{0.0, true}, {0.6, false}, {0.9, false}, {1.2, true}}},
		{"percent of range", drivers.Uint16, nil, &[2]float64{0, 1000}, Deadband{Percent: 1}, []step{
			{uint16(500), true}, {uint16(510), false}, {uint16(489), true}, {uint16(479), false}}},
		{"percent scaled", drivers.Int16, rangeScale(0, 27648, 0, 100, false), &[2]float64{0, 100}, Deadband{Percent: 2}, []step{
			{int16(0), true}, {int16(552), false}, {int16(554), true}}},
		{"int16 negative", drivers.Int16, nil, nil, Deadband{Absolute: 10}, []step{
			{int16(-32768), true}, {int16(-32760), false}, {int16(32767), true}, {int16(-5), true}, {int16(4), false}, {int16(6), true}}},
		{"uint64 near max", drivers.Uint64, nil, nil, Deadband{Absolute: 1000}, []step{
			{uint64(math.MaxUint64), true}, {uint64(math.MaxUint64 - 1000), false}, {uint64(math.MaxUint64 - 5000), true},
			{uint64(0), true}, {uint64(1000), false}, {uint64(math.MaxUint64), true}}},
		{"uint64 exact", drivers.Uint64, nil, nil, Deadband{}, []step{
			{uint64(math.MaxUint64), true}, {uint64(math.MaxUint64 - 1), true}, {uint64(math.MaxUint64 - 1), false}}},
		{"int64 extremes", drivers.Int64, nil, nil, Deadband{Absolute: 1}, []step{
			{int64(math.MinInt64), true}, {int64(math.MaxInt64), true}, {int64(math.MaxInt64 - 1), false}, {int64(math.MinInt64), true}}},
		{"bool", drivers.Bool, nil, nil, Deadband{}, []step{{false, true}, {false, false}, {true, true}}},
		{"string", drivers.String, nil, nil, Deadband{}, []step{{"a", true}, {"a", false}, {"b", true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := newTag(tc.raw, tc.scale)
			tag.Range, tag.Deadband = tc.rng, tc.db
			for i, st := range tc.steps {
				if got := tag.Publish(good(st.in), t0.Add(time.Duration(i)*time.Second)); got != st.pub {
					t.Fatalf("step %d (%v): publish=%v, want %v (stored %v)", i, st.in, got, st.pub, tag.Entry.Load().V)
				}
			}
		})
	}
}

func TestDecodeQualityAlwaysPublishes(t *testing.T) {
	t.Parallel()
	tag := newTag(drivers.Float64, nil)
	tag.Deadband = Deadband{Absolute: 100}
	tag.Publish(good(1.0), t0)
	// Bad: keeps value and Source, publishes once.
	bad := drivers.Sample{Quality: drivers.BadCommunicationError, Err: errors.New("timeout"), Time: t0.Add(time.Second)}
	v, pub := tag.Decode(bad, t0.Add(2*time.Second))
	if !pub || v.V != 1.0 || !v.Source.Equal(t0) || !v.Server.Equal(t0.Add(2*time.Second)) || v.Err != "timeout" || v.Quality != drivers.BadCommunicationError {
		t.Fatalf("bad sample: %+v pub=%v", v, pub)
	}
	tag.Entry.Set(v)
	if _, pub := tag.Decode(bad, t0.Add(3*time.Second)); pub {
		t.Error("same bad quality published again")
	}
	// back to Good with a value inside the deadband: quality change publishes
	if v, pub := tag.Decode(good(1.5), t0.Add(4*time.Second)); !pub || v.Quality != drivers.Good || v.V != 1.5 {
		t.Errorf("recovery: %+v pub=%v", v, pub)
	}
	// a Good sample without a value is a driver bug, not a crash
	if v, pub := newTag(drivers.Int16, nil).Decode(drivers.Sample{Quality: drivers.Good}, t0); !pub || v.Quality != drivers.BadInternalError {
		t.Errorf("nil value: %+v", v)
	}
	// no source time: the gateway's time
	if v, _ := newTag(drivers.Int16, nil).Decode(drivers.Sample{Value: int16(1)}, t0); !v.Source.Equal(t0) {
		t.Errorf("zero source time not replaced: %v", v.Source)
	}
}

func TestSetQuality(t *testing.T) {
	t.Parallel()
	tag := newTag(drivers.Int16, nil)
	tag.Publish(good(int16(4)), t0)
	w := NewWatcher()
	tag.Entry.Watch(w)
	tag.SetQuality(drivers.BadOutOfService, "demoted", t0.Add(time.Minute))
	v := tag.Entry.Load()
	if v.V != int16(4) || v.Quality != drivers.BadOutOfService || v.Err != "demoted" || !v.Source.Equal(t0) || !v.Server.Equal(t0.Add(time.Minute)) {
		t.Fatalf("%+v", v)
	}
	tag.SetQuality(drivers.BadOutOfService, "demoted", t0.Add(2*time.Minute))
	if got := tag.Entry.Load().Server; !got.Equal(t0.Add(time.Minute)) {
		t.Error("unchanged SetQuality stored again")
	}
	if n := len(w.Drain(nil)); n != 1 {
		t.Errorf("watcher saw %d entries", n)
	}
	(&Tag{}).SetQuality(drivers.Bad, "", t0) // no Entry: no panic
}

func TestStatusSetValue(t *testing.T) {
	t.Parallel()
	tbl, err := Compile(baseConfig(), NewStore())
	if err != nil {
		t.Fatal(err)
	}
	st := tbl.Devices[0].Status
	if !st.State.SetValue(StateUp, t0) || st.State.SetValue(StateUp, t0.Add(time.Second)) {
		t.Error("SetValue publish rules")
	}
	if !st.ReadCount.SetValue(uint64(1), t0) || !st.ScanTimeMs.SetValue(12.5, t0) || !st.Connected.SetValue(true, t0) {
		t.Error("SetValue first values")
	}
	if v := st.ReadCount.Entry.Load(); v.V != uint64(1) || v.Quality != drivers.Good {
		t.Errorf("%+v", v)
	}
}
