package drivers_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestParseType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want drivers.Type
		err  string
	}{
		{"bool", drivers.Bool, ""},
		{"int16", drivers.Int16, ""},
		{"uint16", drivers.Uint16, ""},
		{"int32", drivers.Int32, ""},
		{"uint32", drivers.Uint32, ""},
		{"int64", drivers.Int64, ""},
		{"uint64", drivers.Uint64, ""},
		{"float32", drivers.Float32, ""},
		{"float64", drivers.Float64, ""},
		{"string", drivers.String, ""},
		{"bcd16", drivers.BCD16, ""},
		{"bcd32", drivers.BCD32, ""},
		{"FLOAT32", drivers.Float32, ""},
		{"  Int16 ", drivers.Int16, ""},
		{"flaot32", drivers.Invalid, `unknown type "flaot32" (want one of bool, int16`},
		{"invalid", drivers.Invalid, `unknown type "invalid"`},
		{"", drivers.Invalid, `unknown type ""`},
		{"float", drivers.Invalid, `unknown type "float"`},
		{"int", drivers.Invalid, `unknown type "int"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := drivers.ParseType(tt.in)
			if got != tt.want {
				t.Errorf("ParseType(%q) = %v, want %v", tt.in, got, tt.want)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("ParseType(%q): %v", tt.in, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("ParseType(%q) error %v, want it to contain %q", tt.in, err, tt.err)
			}
		})
	}
}

func TestTypeRoundTripAndZero(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ       drivers.Type
		zero      any
		registers int // with length 5
		numeric   bool
	}{
		{drivers.Bool, false, 1, false},
		{drivers.Int16, int16(0), 1, true},
		{drivers.Uint16, uint16(0), 1, true},
		{drivers.Int32, int32(0), 2, true},
		{drivers.Uint32, uint32(0), 2, true},
		{drivers.Int64, int64(0), 4, true},
		{drivers.Uint64, uint64(0), 4, true},
		{drivers.Float32, float32(0), 2, true},
		{drivers.Float64, float64(0), 4, true},
		{drivers.String, "", 3, false},
		{drivers.BCD16, uint16(0), 1, true},
		{drivers.BCD32, uint32(0), 2, true},
	}
	for _, tt := range tests {
		if got, err := drivers.ParseType(tt.typ.String()); err != nil || got != tt.typ {
			t.Errorf("ParseType(%v.String()) = %v, %v", tt.typ, got, err)
		}
		if z := tt.typ.Zero(); !reflect.DeepEqual(z, tt.zero) {
			t.Errorf("%v.Zero() = %T %v, want %T", tt.typ, z, z, tt.zero)
		}
		if r := tt.typ.Registers(5); r != tt.registers {
			t.Errorf("%v.Registers(5) = %d, want %d", tt.typ, r, tt.registers)
		}
		if n := tt.typ.Numeric(); n != tt.numeric {
			t.Errorf("%v.Numeric() = %v", tt.typ, n)
		}
	}
	if s := drivers.Type(200).String(); s != "Type(200)" {
		t.Errorf("Type(200).String() = %q", s)
	}
	if drivers.Invalid.Zero() != nil || drivers.Invalid.Numeric() || drivers.Invalid.Registers(2) != 0 {
		t.Error("Invalid has a zero value, is numeric or has registers")
	}
}
