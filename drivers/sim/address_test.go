package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestParseAddressGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want point
	}{
		{"sine", point{kind: kindSine, period: 10 * time.Second, amplitude: 1, max: 100, high: 1, step: 1}},
		{"sine:period=10s,amplitude=50,offset=20", point{kind: kindSine, period: 10 * time.Second, amplitude: 50, offset: 20, max: 100, high: 1, step: 1}},
		{" SINE : period = 2s ", point{kind: kindSine, period: 2 * time.Second, amplitude: 1, max: 100, high: 1, step: 1}},
		{"ramp:period=30s,min=0,max=100", point{kind: kindRamp, period: 30 * time.Second, amplitude: 1, max: 100, hasMax: true, high: 1, step: 1}},
		{"ramp:min=100,max=0", point{kind: kindRamp, period: 10 * time.Second, amplitude: 1, min: 100, max: 0, hasMax: true, high: 1, step: 1}},
		{"random:min=0,max=10", point{kind: kindRandom, period: 10 * time.Second, amplitude: 1, max: 10, hasMax: true, high: 1, step: 1}},
		{"random:min=-5e2,max=-5e2", point{kind: kindRandom, period: 10 * time.Second, amplitude: 1, min: -500, max: -500, hasMax: true, high: 1, step: 1}},
		{"counter", point{kind: kindCounter, period: 10 * time.Second, amplitude: 1, high: 1, step: 1}},
		{"counter:", point{kind: kindCounter, period: 10 * time.Second, amplitude: 1, high: 1, step: 1}},
		{"counter:step=1,max=1000", point{kind: kindCounter, period: 10 * time.Second, amplitude: 1, max: 1000, hasMax: true, high: 1, step: 1}},
		{"square:period=4s,low=0,high=1", point{kind: kindSquare, period: 4 * time.Second, amplitude: 1, max: 100, high: 1, step: 1}},
		{"square:low=5,high=-5", point{kind: kindSquare, period: 10 * time.Second, amplitude: 1, max: 100, low: 5, high: -5, step: 1}},
		{"const:42", point{kind: kindConst, lit: "42"}},
		{"const:hello, world", point{kind: kindConst, lit: "hello, world"}},
		{"const:", point{kind: kindConst, lit: ""}},
		{"memory:float32", point{kind: kindMemory, memType: drivers.Float32}},
		{"memory:Int16=5", point{kind: kindMemory, memType: drivers.Int16, lit: "5", hasInit: true}},
		{"memory:string=a=b", point{kind: kindMemory, memType: drivers.String, lit: "a=b", hasInit: true}},
		{"bad:BadDeviceFailure", point{kind: kindBad, quality: drivers.BadDeviceFailure}},
		{"bad:badcommunicationerror", point{kind: kindBad, quality: drivers.BadCommunicationError}},
		{"bad:0x80AB0000", point{kind: kindBad, quality: 0x80AB0000}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			got, err := parseAddress(tt.addr)
			if err != nil {
				t.Fatalf("parseAddress(%q): %v", tt.addr, err)
			}
			if got != tt.want {
				t.Errorf("parseAddress(%q) = %+v, want %+v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestParseAddressBad(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{"sine:perod=1s", `sim: address "sine:perod=1s": unknown parameter "perod" (want period, amplitude, offset)`},
		{"", `sim: address "": empty address`},
		{":1", `empty address`},
		{"foo", `sim: address "foo": unknown kind "foo" (want sine, ramp, random, counter, square, const, memory, bad)`},
		{"sine:period=1s,period=2s", `parameter "period" given twice`},
		{"sine:period", `parameter "period" has no value (want period=<value>)`},
		{"sine:period=", `parameter "period" has no value`},
		{"sine:period=1s,", `empty parameter (want name=value, names period, amplitude, offset)`},
		{"sine:period=10", `period "10" is not a duration (e.g. 10s, 500ms)`},
		{"sine:period=0s", `period 0s must be > 0`},
		{"sine:period=-1s", `period -1s must be > 0`},
		{"sine:amplitude=big", `amplitude "big" is not a finite number`},
		{"sine:offset=NaN", `offset "NaN" is not a finite number`},
		{"ramp:max=inf", `max "inf" is not a finite number`},
		{"ramp:step=1", `unknown parameter "step" (want period, min, max)`},
		{"random:min=10,max=0", `min 10 is greater than max 0`},
		{"random:period=1s", `unknown parameter "period" (want min, max)`},
		{"counter:step=0", `step 0 must be > 0`},
		{"counter:step=-1", `step -1 must be > 0`},
		{"counter:max=0", `max 0 must be > 0`},
		{"square:amplitude=1", `unknown parameter "amplitude" (want period, low, high)`},
		{"const", `const needs a value`},
		{"memory", `memory needs a type`},
		{"memory:", `memory needs a type`},
		{"memory:flaot32", `unknown type "flaot32"`},
		{"bad", `bad needs a quality name`},
		{"bad:", `bad needs a quality name`},
		{"bad:Good", `unknown quality "Good" (want a Bad quality name: Bad, BadInternalError`},
		{"bad:0x00000001", `quality 0x00000001 is not Bad`},
		{"bad:VeryBad", `unknown quality "VeryBad"`},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			_, err := parseAddress(tt.addr)
			if err == nil {
				t.Fatalf("parseAddress(%q) = nil error, want %q", tt.addr, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseAddress(%q) error\n got %q\nwant it to contain %q", tt.addr, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "sim: address ") {
				t.Errorf("error %q does not start with the address", err)
			}
		})
	}
}

// TestCheck covers the type compatibility half of validation, through the
// Checker a `tagbridge validate` run uses.
func TestCheck(t *testing.T) {
	t.Parallel()
	dev := openTest(t, nil, nil)
	c := dev.(drivers.Checker)
	tests := []struct {
		addr    string
		typ     drivers.Type
		options map[string]any
		want    string // "" = valid
	}{
		{"sine", drivers.Float32, nil, ""},
		{"sine", drivers.Bool, nil, ""},
		{"counter", drivers.String, nil, ""},
		{"const:42", drivers.Int16, nil, ""},
		{"const:0x10", drivers.Uint16, nil, ""},
		{"const:42.0", drivers.Int16, nil, ""},
		{"const:-1.5", drivers.Float32, nil, ""},
		{"const:18446744073709551615", drivers.Uint64, nil, ""},
		{"const:true", drivers.Bool, nil, ""},
		{"const:0", drivers.Bool, nil, ""},
		{"const:hello", drivers.String, nil, ""},
		{"const:9999", drivers.BCD16, nil, ""},
		{"memory:float32", drivers.Float32, nil, ""},
		{"memory:bcd32=99999999", drivers.BCD32, nil, ""},
		{"memory:bool=true", drivers.Bool, nil, ""},
		{"bad:BadDeviceFailure", drivers.String, nil, ""},
		{"sine", drivers.Invalid, nil, `sim: address "sine": tag type invalid is not supported`},
		{"sine", drivers.Type(99), nil, `tag type Type(99) is not supported`},
		{"const:hello", drivers.Float64, nil, `sim: address "const:hello": const: "hello" is not a number (type float64)`},
		{"const:70000", drivers.Int16, nil, `const: 70000 is out of range for int16`},
		{"const:-1", drivers.Uint32, nil, `const: -1 is out of range for uint32`},
		{"const:1.5", drivers.Int32, nil, `const: 1.5 is not a whole number (type int32)`},
		{"const:10000", drivers.BCD16, nil, `out of range for bcd16`},
		{"const:1e39", drivers.Float32, nil, `out of range for float32`},
		{"const:maybe", drivers.Bool, nil, `const: "maybe" is not a bool (want true, false, 1 or 0)`},
		{"memory:int16", drivers.Float32, nil, `sim: address "memory:int16": memory type int16 does not match the tag type float32`},
		{"memory:uint16", drivers.BCD16, nil, `memory type uint16 does not match the tag type bcd16`},
		{"memory:int16=x", drivers.Int16, nil, `memory initial value: "x" is not a number (type int16)`},
		{"sine:perod=1s", drivers.Float64, nil, `sim: address "sine:perod=1s": unknown parameter "perod" (want period, amplitude, offset)`},
		{"sine", drivers.Float64, map[string]any{"zeta": 1, "alpha": 2}, `sim: address "sine": unknown tag option "alpha" (the sim driver has no tag options)`},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.typ.String(), func(t *testing.T) {
			t.Parallel()
			err := c.Check(drivers.Address{Addr: tt.addr, Type: tt.typ, Options: tt.options})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check(%q, %s) = %v, want nil", tt.addr, tt.typ, err)
			case tt.want != "" && err == nil:
				t.Errorf("Check(%q, %s) = nil, want %q", tt.addr, tt.typ, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Check(%q, %s)\n got %q\nwant it to contain %q", tt.addr, tt.typ, err, tt.want)
			}
		})
	}
}

// FuzzParseAddress checks that no address, with any tag type, panics the
// parser, the resolver or a read, and that Check and Read agree.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"sine:period=10s,amplitude=50,offset=20", "ramp:period=30s,min=0,max=100", "random:min=0,max=10",
		"counter", "counter:step=1,max=1000", "square:period=4s,low=0,high=1", "const:42", "const:hello",
		"memory:float32", "memory:int16=5", "bad:BadDeviceFailure", "bad:0x80000000", "sine:perod=1s",
		"", ":", "::", "=,=", "sine:,,", "memory:=", "const:1e400", "ramp:period=1ns", "counter:step=1e308,max=1e308",
		"sine:amplitude=1e308,offset=1e308", "const:-0x8000",
	} {
		for typ := range uint8(14) {
			f.Add(s, typ)
		}
	}
	f.Fuzz(func(t *testing.T, s string, typ uint8) {
		a := drivers.Address{Tag: "fuzz", Addr: s, Type: drivers.Type(typ)}
		p, perr := parseAddress(s)
		if perr != nil {
			if !strings.HasPrefix(perr.Error(), "sim: address ") {
				t.Errorf("error %q lacks the prefix", perr)
			}
			return
		}
		_ = p.resolve(s, a.Type)
		d := openTest(t, nil, newClock())
		checkErr := d.(drivers.Checker).Check(a)
		out := make([]drivers.Sample, 1)
		for range 3 {
			if err := d.Read(t.Context(), []drivers.Address{a}, out); err != nil {
				t.Fatalf("Read(%q): %v", s, err)
			}
			if checkErr != nil && out[0].Quality != drivers.BadConfigurationError {
				t.Fatalf("Check(%q, %v) failed (%v) but Read gave %v", s, a.Type, checkErr, out[0].Quality)
			}
			if checkErr == nil && p.kind != kindBad && !out[0].Quality.IsGood() {
				t.Fatalf("Check(%q, %v) passed but Read gave %v: %v", s, a.Type, out[0].Quality, out[0].Err)
			}
		}
	})
}
