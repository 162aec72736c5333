package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestWaves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		typ  drivers.Type
		at   time.Duration // since Open
		want any
	}{
		{"sine:period=10s,amplitude=50,offset=20", drivers.Float64, 0, 20.0},
		{"sine:period=10s,amplitude=50,offset=20", drivers.Float64, 2500 * time.Millisecond, 70.0},
		{"sine:period=10s,amplitude=50,offset=20", drivers.Float64, 7500 * time.Millisecond, -30.0},
		{"sine:period=10s,amplitude=50,offset=20", drivers.Float64, 12500 * time.Millisecond, 70.0},
		{"sine:period=10s,amplitude=50,offset=20", drivers.Int16, 7500 * time.Millisecond, int16(-30)},
		{"sine:period=10s,amplitude=50,offset=20", drivers.Uint16, 7500 * time.Millisecond, uint16(0)}, // saturated
		{"sine:period=10s,amplitude=50,offset=20", drivers.Float32, 2500 * time.Millisecond, float32(70)},
		{"sine:period=10s,amplitude=50,offset=20", drivers.String, 2500 * time.Millisecond, "70"},
		{"sine", drivers.Bool, 0, false},
		{"sine", drivers.Bool, time.Second, true},
		{"ramp:period=30s,min=0,max=100", drivers.Float64, 0, 0.0},
		{"ramp:period=30s,min=0,max=100", drivers.Float64, 15 * time.Second, 50.0},
		{"ramp:period=30s,min=0,max=100", drivers.Float64, 45 * time.Second, 50.0},
		{"ramp:period=30s,min=0,max=100", drivers.Int32, 10 * time.Second, int32(33)},
		{"ramp:period=30s,min=0,max=100", drivers.Int32, 20 * time.Second, int32(67)}, // rounded
		{"ramp:period=10s,min=100,max=0", drivers.Float64, 2500 * time.Millisecond, 75.0},
		{"ramp:min=-1e308,max=1e308", drivers.Int64, 0, int64(math.MinInt64)},
		{"ramp:min=-1e308,max=1e308", drivers.Uint64, 9 * time.Second, uint64(math.MaxUint64)},
		{"square:period=4s,low=0,high=1", drivers.Float64, 0, 1.0},
		{"square:period=4s,low=0,high=1", drivers.Float64, 1999 * time.Millisecond, 1.0},
		{"square:period=4s,low=0,high=1", drivers.Float64, 2 * time.Second, 0.0},
		{"square:period=4s,low=5,high=10", drivers.Bool, 3 * time.Second, false}, // bool is the phase, not low != 0
		{"square:period=4s,low=5,high=10", drivers.Bool, time.Second, true},
		{"square:period=4s,low=5,high=10", drivers.BCD16, 3 * time.Second, uint16(5)},
		{"square:period=4s,low=-1,high=1e6", drivers.BCD32, 0, uint32(1e6)},
		{"square:period=4s,low=-1,high=1e9", drivers.BCD32, 0, uint32(99999999)},
		{"square:period=4s,low=-1,high=1e6", drivers.BCD16, 0, uint16(9999)},
		{"square:period=4s,low=-1e6,high=1e6", drivers.Int16, 3 * time.Second, int16(math.MinInt16)},
		{"const:42", drivers.Int64, time.Hour, int64(42)},
		{"const:hello", drivers.String, 0, "hello"},
		{"const: 2.5", drivers.Float32, 0, float32(2.5)},
		{"const:1", drivers.Bool, 0, true},
		{"memory:uint32=7", drivers.Uint32, 0, uint32(7)},
		{"memory:string", drivers.String, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.typ.String()+"/"+tt.at.String(), func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			dev := openTest(t, nil, clk)
			clk.Add(tt.at)
			s := read1(t, dev, tt.addr, tt.typ)
			if s.Quality != drivers.Good {
				t.Fatalf("quality %v (%v), want Good", s.Quality, s.Err)
			}
			if f, ok := tt.want.(float64); ok {
				if g, ok := s.Value.(float64); !ok || math.Abs(g-f) > 1e-9 {
					t.Fatalf("value %T %v, want %v", s.Value, s.Value, f)
				}
			} else if !reflect.DeepEqual(s.Value, tt.want) {
				t.Fatalf("value %T %v, want %T %v", s.Value, s.Value, tt.want, tt.want)
			}
			if !s.Time.Equal(clk.Now()) {
				t.Errorf("Time %v, want the clock %v", s.Time, clk.Now())
			}
		})
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		typ  drivers.Type
		want []any
	}{
		{"counter", drivers.Int32, []any{int32(0), int32(1), int32(2), int32(3)}},
		{"counter:step=2,max=5", drivers.Uint16, []any{uint16(0), uint16(2), uint16(4), uint16(0), uint16(2)}},
		{"counter:max=2", drivers.String, []any{"0", "1", "2", "0"}},
		{"counter", drivers.Bool, []any{false, true, false, true}}, // wraps at the type's max
		{"counter:step=0.5,max=1", drivers.Float64, []any{0.0, 0.5, 1.0, 0.0}},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.typ.String(), func(t *testing.T) {
			t.Parallel()
			dev := openTest(t, nil, newClock())
			for i, want := range tt.want {
				if got := read1(t, dev, tt.addr, tt.typ).Value; !reflect.DeepEqual(got, want) {
					t.Fatalf("read %d: %T %v, want %T %v", i, got, got, want, want)
				}
			}
		})
	}
}

func TestCounterWrapsAtTypeMax(t *testing.T) {
	t.Parallel()
	dev := openTest(t, nil, nil)
	// Prepared, as the scheduler reads: the state is shared with Read.
	b, err := dev.(drivers.Preparer).Prepare([]drivers.Address{{Tag: "t", Addr: "counter:step=1000", Type: drivers.Int16}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]drivers.Sample, 1)
	var last int16
	for i := range 40 {
		if err := b.Read(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		v := out[0].Value.(int16)
		if i == 33 {
			if v != 0 || last != 32000 {
				t.Fatalf("read %d: %d after %d, want a wrap from 32000 to 0", i, v, last)
			}
		}
		last = v
	}
	if got := read1(t, dev, "counter:step=1000", drivers.Int16).Value; got != int16(7000) {
		t.Errorf("Read after the batch: %v, want 7000 (one counter per tag)", got)
	}
}

func TestRandomDeterministic(t *testing.T) {
	t.Parallel()
	addrs := []drivers.Address{
		{Tag: "a", Addr: "random:min=0,max=10", Type: drivers.Float64},
		{Tag: "b", Addr: "random:min=0,max=10", Type: drivers.Float64},
		{Tag: "c", Addr: "random:min=-5,max=5", Type: drivers.Int16},
		{Tag: "d", Addr: "random", Type: drivers.Bool},
	}
	seq := func(seed int, addrs []drivers.Address) [][]any {
		dev := openTest(t, map[string]any{"seed": seed}, nil)
		out := make([]drivers.Sample, len(addrs))
		var vals [][]any
		for range 50 {
			if err := dev.Read(context.Background(), addrs, out); err != nil {
				t.Fatal(err)
			}
			row := make([]any, len(out))
			for i, s := range out {
				row[i] = s.Value
			}
			vals = append(vals, row)
		}
		return vals
	}
	a, b, c := seq(7, addrs), seq(7, addrs), seq(8, addrs)
	if !reflect.DeepEqual(a, b) {
		t.Error("two devices with seed 7 gave different random values")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("seeds 7 and 8 gave the same random values")
	}
	// A point's stream does not depend on its batch neighbours.
	alone := seq(7, addrs[2:3])
	trues := 0
	for i, row := range a {
		if row[2] != alone[i][0] {
			t.Fatalf("read %d: tag c gave %v in a batch and %v alone", i, row[2], alone[i][0])
		}
		if f := row[0].(float64); f < 0 || f >= 10 {
			t.Errorf("random:min=0,max=10 gave %v", f)
		}
		if n := row[2].(int16); n < -5 || n > 5 {
			t.Errorf("random:min=-5,max=5 gave %v", n)
		}
		if row[3].(bool) {
			trues++
		}
	}
	if row := a[0]; row[0] == row[1] {
		t.Error("two tags with the same random address share one stream")
	}
	if trues == 0 || trues == len(a) {
		t.Errorf("random bool gave %d trues in %d reads", trues, len(a))
	}
}

func TestBadPoints(t *testing.T) {
	t.Parallel()
	dev := openTest(t, nil, newClock())
	tests := []struct {
		addr string
		typ  drivers.Type
		want drivers.Quality
	}{
		{"bad:BadDeviceFailure", drivers.Float32, drivers.BadDeviceFailure},
		{"bad:BadCommunicationError", drivers.String, drivers.BadCommunicationError},
		{"bad:0x80AB0000", drivers.Int16, drivers.Quality(0x80AB0000)},
		{"sine:perod=1s", drivers.Float64, drivers.BadConfigurationError},
		{"memory:int16", drivers.Float32, drivers.BadConfigurationError},
		{"const:x", drivers.Int16, drivers.BadConfigurationError},
	}
	for _, tt := range tests {
		s := read1(t, dev, tt.addr, tt.typ)
		var qe *drivers.QualityError
		if s.Quality != tt.want || s.Value != nil || !errors.As(s.Err, &qe) || qe.Quality != tt.want {
			t.Errorf("%q: got %v %v err %v, want %v with a QualityError and no value", tt.addr, s.Quality, s.Value, s.Err, tt.want)
		}
	}
}

func TestDevicesAreIndependent(t *testing.T) {
	t.Parallel()
	a := drivers.Address{Tag: "t", Addr: "memory:int32", Type: drivers.Int32} // read1's tag
	d1, d2 := openTest(t, nil, nil), openTest(t, nil, nil)
	if err := d1.(drivers.Writer).Write(context.Background(), a, int32(5)); err != nil {
		t.Fatal(err)
	}
	if got := read1(t, d1, a.Addr, a.Type).Value; got != int32(5) {
		t.Fatalf("first device reads %v after writing 5", got)
	}
	if got := read1(t, d2, a.Addr, a.Type).Value; got != int32(0) {
		t.Errorf("second device reads %v after a write to the first, want 0", got)
	}
	read1(t, d1, "counter", drivers.Int32)
	if got := read1(t, d2, "counter", drivers.Int32).Value; got != int32(0) {
		t.Errorf("second device's counter starts at %v, want 0", got)
	}
}
