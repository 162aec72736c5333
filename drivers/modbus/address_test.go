package modbus

import (
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestParseAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		t    Table
		addr uint16
		bit  int
	}{
		// Modicon five digits: one-based, so 40001 is hr:0 (the classic off-by-one).
		{"00001", Coils, 0, -1},
		{"09999", Coils, 9998, -1},
		{"10001", DiscreteInputs, 0, -1},
		{"19999", DiscreteInputs, 9998, -1},
		{"30001", InputRegisters, 0, -1},
		{"30100", InputRegisters, 99, -1},
		{"40001", HoldingRegisters, 0, -1},
		{"40011", HoldingRegisters, 10, -1},
		{"49999", HoldingRegisters, 9998, -1},
		// Modicon six digits.
		{"000001", Coils, 0, -1},
		{"065536", Coils, 65535, -1},
		{"100001", DiscreteInputs, 0, -1},
		{"165536", DiscreteInputs, 65535, -1},
		{"300001", InputRegisters, 0, -1},
		{"365536", InputRegisters, 65535, -1},
		{"400001", HoldingRegisters, 0, -1},
		{"410000", HoldingRegisters, 9999, -1},
		{"465536", HoldingRegisters, 65535, -1},
		// Explicit zero-based.
		{"coil:0", Coils, 0, -1},
		{"di:7", DiscreteInputs, 7, -1},
		{"ir:65535", InputRegisters, 65535, -1},
		{"hr:0", HoldingRegisters, 0, -1},
		{"hr:10", HoldingRegisters, 10, -1},
		{"HR:10", HoldingRegisters, 10, -1},
		{"hr:0x10", HoldingRegisters, 16, -1},
		{"hr:0XfFfF", HoldingRegisters, 65535, -1},
		{" hr:5 ", HoldingRegisters, 5, -1},
		// Register bits.
		{"40011.3", HoldingRegisters, 10, 3},
		{"40001.0", HoldingRegisters, 0, 0},
		{"400001.15", HoldingRegisters, 0, 15},
		{"30001.07", InputRegisters, 0, 7},
		{"hr:10.3", HoldingRegisters, 10, 3},
		{"ir:0x10.15", InputRegisters, 16, 15},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			tb, addr, bit, err := ParseAddress(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if tb != tt.t || addr != tt.addr || bit != tt.bit {
				t.Fatalf("got %s:%d bit %d, want %s:%d bit %d", tb, addr, bit, tt.t, tt.addr, tt.bit)
			}
		})
	}
}

func TestParseAddressErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"40000", `modbus: address "40000": register 0 does not exist in Modicon notation (one-based: 40001 is hr:0)`},
		{"400000", `register 0 does not exist in Modicon notation (one-based: 400001 is hr:0)`},
		{"00000", "(one-based: 00001 is coil:0)"},
		{"465537", "register 65537 out of range"},
		{"099999", "register 99999 out of range"},
		{"20001", "unknown Modicon table digit 2"},
		{"50001", "unknown Modicon table digit 5"},
		{"4001", "5 or 6 digits"},
		{"4000001", "5 or 6 digits"},
		{"", "empty address"},
		{"   ", "empty address"},
		{"abc", "not a Modicon number"},
		{"4x0001", "not a Modicon number"},
		{"-40001", "not a Modicon number"},
		{"xx:1", `unknown table "xx"`},
		{"hr:", "missing number"},
		{"hr:-1", "bad number"},
		{"hr:1e3", "bad number"},
		{"hr:65536", "out of range"},
		{"hr:0x10000", "out of range"},
		{"hr:0x", "bad number"},
		{"hr:0xg", "bad hex number"},
		{"hr:99999999999999999999999", "out of range"},
		{"40001.16", "bit 16 out of range"},
		{"40001.", "bad bit"},
		{"40001.a", "bad bit"},
		{"40001.100", "bad bit"},
		{"40001.-1", "bad bit"},
		{"hr:1.2.3", "bad number"},
		{"00001.1", "only allowed on registers"},
		{"coil:1.1", "only allowed on registers"},
		{"di:1.0", "only allowed on registers"},
		{"10001.0", "only allowed on registers"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			_, _, _, err := ParseAddress(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseOrder(t *testing.T) {
	t.Parallel()
	for _, o := range Orders {
		for _, s := range []string{o.String(), strings.ToLower(o.String())} {
			got, err := ParseOrder(s)
			if err != nil || got != o {
				t.Errorf("ParseOrder(%q) = %v, %v", s, got, err)
			}
		}
	}
	for _, s := range []string{"", "ABDC", "big", "1234"} {
		if _, err := ParseOrder(s); err == nil {
			t.Errorf("ParseOrder(%q): no error", s)
		}
	}
}

func TestParsePoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a      drivers.Address
		def    Order
		want   Point
		str    string
		errMsg string
	}{
		{a: drivers.Address{Addr: "40001", Type: drivers.Float32}, def: CDAB,
			want: Point{HoldingRegisters, 0, -1, drivers.Float32, 0, CDAB}, str: "hr:0 (40001, fc3) x2 float32 CDAB"},
		{a: drivers.Address{Addr: "hr:10", Type: drivers.Float32, Order: "abcd"}, def: CDAB,
			want: Point{HoldingRegisters, 10, -1, drivers.Float32, 0, ABCD}, str: "hr:10 (40011, fc3) x2 float32 ABCD"},
		{a: drivers.Address{Addr: "30001", Type: drivers.Int16},
			want: Point{InputRegisters, 0, -1, drivers.Int16, 0, ABCD}, str: "ir:0 (30001, fc4) int16 ABCD"},
		{a: drivers.Address{Addr: "400001", Type: drivers.String, Length: 11},
			want: Point{HoldingRegisters, 0, -1, drivers.String, 11, ABCD}, str: "hr:0 (40001, fc3) x6 string[11] ABCD"},
		{a: drivers.Address{Addr: "hr:65532", Type: drivers.Float64},
			want: Point{HoldingRegisters, 65532, -1, drivers.Float64, 0, ABCD}, str: "hr:65532 (465533, fc3) x4 float64 ABCD"},
		{a: drivers.Address{Addr: "40011.3", Type: drivers.Bool},
			want: Point{HoldingRegisters, 10, 3, drivers.Bool, 0, ABCD}, str: "hr:10.3 (40011.3, fc3) bool"},
		{a: drivers.Address{Addr: "40011.3"},
			want: Point{HoldingRegisters, 10, 3, drivers.Bool, 0, ABCD}, str: "hr:10.3 (40011.3, fc3) bool"},
		{a: drivers.Address{Addr: "00005"},
			want: Point{Coils, 4, -1, drivers.Bool, 0, ABCD}, str: "coil:4 (00005, fc1) bool"},
		{a: drivers.Address{Addr: "di:3", Type: drivers.Bool},
			want: Point{DiscreteInputs, 3, -1, drivers.Bool, 0, ABCD}, str: "di:3 (10004, fc2) bool"},
		{a: drivers.Address{Addr: "40001", Type: drivers.Bool},
			want: Point{HoldingRegisters, 0, -1, drivers.Bool, 0, ABCD}, str: "hr:0 (40001, fc3) bool"},
		{a: drivers.Address{Addr: "40001", Type: drivers.Int32, Length: 9},
			want: Point{HoldingRegisters, 0, -1, drivers.Int32, 0, ABCD}, str: "hr:0 (40001, fc3) x2 int32 ABCD"},

		{a: drivers.Address{Addr: "40001"}, errMsg: "a type is required"},
		{a: drivers.Address{Addr: "00001", Type: drivers.Int16}, errMsg: "a coil holds single bits: type must be bool, not int16"},
		{a: drivers.Address{Addr: "10001", Type: drivers.Float32}, errMsg: "a discrete input holds single bits"},
		{a: drivers.Address{Addr: "40001.2", Type: drivers.Uint16}, errMsg: "register bit (.2) must be type bool"},
		{a: drivers.Address{Addr: "40001", Type: drivers.String}, errMsg: "string needs length 1..250 bytes, got 0"},
		{a: drivers.Address{Addr: "40001", Type: drivers.String, Length: 251}, errMsg: "got 251"},
		{a: drivers.Address{Addr: "hr:65535", Type: drivers.Float32}, errMsg: `address "hr:65535" (hr:65535, fc3): float32 spans 2 registers and runs past the last address`},
		{a: drivers.Address{Addr: "465536", Type: drivers.Int64}, errMsg: "runs past"},
		{a: drivers.Address{Addr: "40001", Type: drivers.Type(99)}, errMsg: "unknown type"},
		{a: drivers.Address{Addr: "40001", Type: drivers.Int16, Order: "XY"}, errMsg: `unknown byte order "XY"`},
		{a: drivers.Address{Addr: "40000", Type: drivers.Int16}, errMsg: "register 0 does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.a.Addr+"/"+tt.a.Type.String(), func(t *testing.T) {
			t.Parallel()
			p, err := ParsePoint(tt.a, tt.def)
			if tt.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
					t.Fatalf("err = %v, want %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p != tt.want {
				t.Fatalf("got %+v, want %+v", p, tt.want)
			}
			if s := p.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

// TestModiconRoundTrip: every Modicon form names the PDU address one lower,
// and Table.Modicon prints it back.
func TestModiconRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tb := range []Table{Coils, DiscreteInputs, InputRegisters, HoldingRegisters} {
		for _, a := range []uint16{0, 1, 9997, 9998, 9999, 65534, 65535} {
			s := tb.Modicon(a)
			gt, ga, _, err := ParseAddress(s)
			if err != nil || gt != tb || ga != a {
				t.Errorf("%s:%d -> %q -> %s:%d, %v", tb, a, s, gt, ga, err)
			}
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"40001", "400001", "hr:0x10", "40011.3", "coil:5", "di:0", "ir:65535", "40000", "hr:1.2.3", "", "4x", "465536", "hr:0x.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tb, addr, bit, err := ParseAddress(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "modbus: address ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if tb < Coils || tb > HoldingRegisters || bit < -1 || bit > 15 || (bit >= 0 && tb.IsBits()) {
			t.Fatalf("%q -> %s:%d bit %d", s, tb, addr, bit)
		}
		// The canonical explicit form parses to the same point.
		canon := tb.String() + ":" + itoa(int(addr))
		if bit >= 0 {
			canon += "." + itoa(bit)
		}
		t2, a2, b2, err := ParseAddress(canon)
		if err != nil || t2 != tb || a2 != addr || b2 != bit {
			t.Fatalf("%q -> %q -> %s:%d.%d %v", s, canon, t2, a2, b2, err)
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
