package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr  string
		typ   drivers.Type
		value any
		want  any             // read back, when wantQ is Good
		wantQ drivers.Quality // Good, or the QualityError's quality
	}{
		{"memory:float32", drivers.Float32, float32(1.25), float32(1.25), drivers.Good},
		{"memory:float32", drivers.Float32, 2.5, float32(2.5), drivers.Good},
		{"memory:float32", drivers.Float32, int16(-3), float32(-3), drivers.Good},
		{"memory:float32", drivers.Float32, 1e39, nil, drivers.BadOutOfRange},
		{"memory:float64", drivers.Float64, uint64(7), 7.0, drivers.Good},
		{"memory:int16", drivers.Int16, int16(-5), int16(-5), drivers.Good},
		{"memory:int16", drivers.Int16, 12.0, int16(12), drivers.Good},
		{"memory:int16", drivers.Int16, int64(40000), nil, drivers.BadOutOfRange},
		{"memory:int16", drivers.Int16, 1.5, nil, drivers.BadTypeMismatch},
		{"memory:int16", drivers.Int16, "5", nil, drivers.BadTypeMismatch},
		{"memory:int16", drivers.Int16, true, nil, drivers.BadTypeMismatch},
		{"memory:uint16", drivers.Uint16, -1, nil, drivers.BadOutOfRange},
		{"memory:uint16", drivers.Uint16, uint8(200), uint16(200), drivers.Good},
		{"memory:bcd16", drivers.BCD16, uint16(9999), uint16(9999), drivers.Good},
		{"memory:bcd16", drivers.BCD16, uint16(10000), nil, drivers.BadOutOfRange},
		{"memory:bcd32", drivers.BCD32, 12345678, uint32(12345678), drivers.Good},
		{"memory:int32", drivers.Int32, int32(math.MinInt32), int32(math.MinInt32), drivers.Good},
		{"memory:uint32", drivers.Uint32, uint64(math.MaxUint32 + 1), nil, drivers.BadOutOfRange},
		{"memory:int64", drivers.Int64, uint64(math.MaxUint64), nil, drivers.BadOutOfRange},
		{"memory:int64", drivers.Int64, int64(math.MaxInt64), int64(math.MaxInt64), drivers.Good},
		{"memory:uint64", drivers.Uint64, uint64(math.MaxUint64), uint64(math.MaxUint64), drivers.Good},
		{"memory:uint64", drivers.Uint64, int64(5), uint64(5), drivers.Good},
		{"memory:uint64", drivers.Uint64, 1e19, uint64(1e19), drivers.Good},
		{"memory:uint64", drivers.Uint64, 1e20, nil, drivers.BadOutOfRange},
		{"memory:bool", drivers.Bool, true, true, drivers.Good},
		{"memory:bool", drivers.Bool, 1, nil, drivers.BadTypeMismatch},
		{"memory:string=x", drivers.String, "hello", "hello", drivers.Good},
		{"memory:string", drivers.String, 5, nil, drivers.BadTypeMismatch},
		{"memory:float64", drivers.Float64, nil, nil, drivers.BadTypeMismatch},
		{"sine", drivers.Float64, 1.0, nil, drivers.BadNotWritable},
		{"const:1", drivers.Int16, int16(1), nil, drivers.BadNotWritable},
		{"bad:BadDeviceFailure", drivers.Int16, int16(1), nil, drivers.BadNotWritable},
		{"memory:int16", drivers.Float32, float32(1), nil, drivers.BadConfigurationError},
		{"nope", drivers.Int16, int16(1), nil, drivers.BadConfigurationError},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.typ.String(), func(t *testing.T) {
			t.Parallel()
			dev := openTest(t, nil, nil)
			a := drivers.Address{Tag: "sp", Addr: tt.addr, Type: tt.typ}
			err := dev.(drivers.Writer).Write(context.Background(), a, tt.value)
			if tt.wantQ != drivers.Good {
				var qe *drivers.QualityError
				if !errors.As(err, &qe) || qe.Quality != tt.wantQ {
					t.Fatalf("Write(%T %v) = %v, want a QualityError %v", tt.value, tt.value, err, tt.wantQ)
				}
				if !strings.HasPrefix(err.Error(), "sim") {
					t.Errorf("error %q does not say who", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Write(%T %v): %v", tt.value, tt.value, err)
			}
			out := make([]drivers.Sample, 1)
			if err := dev.Read(context.Background(), []drivers.Address{a}, out); err != nil {
				t.Fatal(err)
			}
			s := out[0]
			if s.Quality != drivers.Good || !reflect.DeepEqual(s.Value, tt.want) {
				t.Errorf("read back %v %T %v, want %T %v", s.Quality, s.Value, s.Value, tt.want, tt.want)
			}
		})
	}
}

func TestWriteSeenByPreparedBatch(t *testing.T) {
	t.Parallel()
	dev := openTest(t, nil, nil)
	a := drivers.Address{Tag: "Line1/Setpoint", Addr: "memory:float64=20", Type: drivers.Float64}
	other := drivers.Address{Tag: "Line1/Other", Addr: a.Addr, Type: a.Type}
	b, err := dev.(drivers.Preparer).Prepare([]drivers.Address{a, other})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]drivers.Sample, 2)
	if err := b.Read(context.Background(), out); err != nil || out[0].Value != 20.0 {
		t.Fatalf("initial read: %v %v, want 20", out[0].Value, err)
	}
	if err := dev.(drivers.Writer).Write(context.Background(), a, 42.5); err != nil {
		t.Fatal(err)
	}
	if err := b.Read(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if out[0].Value != 42.5 || out[1].Value != 20.0 {
		t.Errorf("after write: %v and %v, want 42.5 for the written tag and 20 for the other", out[0].Value, out[1].Value)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	dev := openTest(t, nil, nil)
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	a := drivers.Address{Addr: "memory:int16", Type: drivers.Int16}
	if _, err := dev.(drivers.Preparer).Prepare([]drivers.Address{a}); !errors.Is(err, drivers.ErrBadConn) {
		t.Errorf("Prepare after Close: %v, want ErrBadConn", err)
	}
	if err := dev.(drivers.Writer).Write(context.Background(), a, int16(1)); !errors.Is(err, drivers.ErrBadConn) {
		t.Errorf("Write after Close: %v, want ErrBadConn", err)
	}
	if err := dev.Read(context.Background(), []drivers.Address{a}, make([]drivers.Sample, 1)); !errors.Is(err, drivers.ErrBadConn) {
		t.Errorf("Read after Close: %v, want ErrBadConn", err)
	}
}

func TestReadLengthMismatch(t *testing.T) {
	t.Parallel()
	dev := openTest(t, nil, nil)
	err := dev.Read(context.Background(), []drivers.Address{{Addr: "sine", Type: drivers.Float64}}, nil)
	if err == nil || !strings.Contains(err.Error(), "1 addresses but 0 out slots") {
		t.Errorf("Read with a short out: %v", err)
	}
}
