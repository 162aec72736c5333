package modbus

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

// golden is the hand-computed matrix: every type in every order against the
// register words a PLC holds. Words were worked out on paper from the byte
// definitions in docs/modbus.md (value bytes A B C D ..., A most significant),
// not produced by the code under test.
var golden = []struct {
	typ    drivers.Type
	length int
	value  any
	words  map[Order][]uint16
}{
	// 16-bit: CDAB equals ABCD (no second word to swap); BADC and DCBA swap the bytes.
	{drivers.Uint16, 0, uint16(0x1234), map[Order][]uint16{
		ABCD: {0x1234}, CDAB: {0x1234}, BADC: {0x3412}, DCBA: {0x3412}}},
	{drivers.Int16, 0, int16(-12345), map[Order][]uint16{ // 0xCFC7
		ABCD: {0xCFC7}, CDAB: {0xCFC7}, BADC: {0xC7CF}, DCBA: {0xC7CF}}},
	{drivers.BCD16, 0, uint16(1234), map[Order][]uint16{
		ABCD: {0x1234}, CDAB: {0x1234}, BADC: {0x3412}, DCBA: {0x3412}}},
	{drivers.BCD16, 0, uint16(9), map[Order][]uint16{
		ABCD: {0x0009}, CDAB: {0x0009}, BADC: {0x0900}, DCBA: {0x0900}}},
	// 32-bit, bytes A=11 B=22 C=33 D=44.
	{drivers.Uint32, 0, uint32(0x11223344), map[Order][]uint16{
		ABCD: {0x1122, 0x3344}, CDAB: {0x3344, 0x1122}, BADC: {0x2211, 0x4433}, DCBA: {0x4433, 0x2211}}},
	{drivers.Int32, 0, int32(-2), map[Order][]uint16{ // 0xFFFFFFFE
		ABCD: {0xFFFF, 0xFFFE}, CDAB: {0xFFFE, 0xFFFF}, BADC: {0xFFFF, 0xFEFF}, DCBA: {0xFEFF, 0xFFFF}}},
	{drivers.Int32, 0, int32(100000), map[Order][]uint16{ // 0x000186A0
		ABCD: {0x0001, 0x86A0}, CDAB: {0x86A0, 0x0001}, BADC: {0x0100, 0xA086}, DCBA: {0xA086, 0x0100}}},
	// The classic float word swap: 1.0 is 0x3F800000; a CDAB PLC sends 0000 3F80.
	{drivers.Float32, 0, float32(1), map[Order][]uint16{
		ABCD: {0x3F80, 0x0000}, CDAB: {0x0000, 0x3F80}, BADC: {0x803F, 0x0000}, DCBA: {0x0000, 0x803F}}},
	{drivers.Float32, 0, float32(123.456), map[Order][]uint16{ // 0x42F6E979
		ABCD: {0x42F6, 0xE979}, CDAB: {0xE979, 0x42F6}, BADC: {0xF642, 0x79E9}, DCBA: {0x79E9, 0xF642}}},
	{drivers.BCD32, 0, uint32(12345678), map[Order][]uint16{
		ABCD: {0x1234, 0x5678}, CDAB: {0x5678, 0x1234}, BADC: {0x3412, 0x7856}, DCBA: {0x7856, 0x3412}}},
	// 64-bit, bytes A..H = 01..08. CDAB is the four words reversed (low word first).
	{drivers.Uint64, 0, uint64(0x0102030405060708), map[Order][]uint16{
		ABCD: {0x0102, 0x0304, 0x0506, 0x0708}, CDAB: {0x0708, 0x0506, 0x0304, 0x0102},
		BADC: {0x0201, 0x0403, 0x0605, 0x0807}, DCBA: {0x0807, 0x0605, 0x0403, 0x0201}}},
	{drivers.Int64, 0, int64(-2), map[Order][]uint16{
		ABCD: {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, CDAB: {0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF},
		BADC: {0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF}, DCBA: {0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF}}},
	{drivers.Int64, 0, int64(1), map[Order][]uint16{
		ABCD: {0, 0, 0, 0x0001}, CDAB: {0x0001, 0, 0, 0}, BADC: {0, 0, 0, 0x0100}, DCBA: {0x0100, 0, 0, 0}}},
	{drivers.Float64, 0, math.Pi, map[Order][]uint16{ // 0x400921FB54442D18
		ABCD: {0x4009, 0x21FB, 0x5444, 0x2D18}, CDAB: {0x2D18, 0x5444, 0x21FB, 0x4009},
		BADC: {0x0940, 0xFB21, 0x4454, 0x182D}, DCBA: {0x182D, 0x4454, 0xFB21, 0x0940}}},
	{drivers.Float64, 0, float64(-2.5), map[Order][]uint16{ // 0xC004000000000000
		ABCD: {0xC004, 0, 0, 0}, CDAB: {0, 0, 0, 0xC004}, BADC: {0x04C0, 0, 0, 0}, DCBA: {0, 0, 0, 0x04C0}}},
	// Strings: characters in register order, never word-swapped; BADC/DCBA
	// put the first character in the low byte. Padding is NUL.
	{drivers.String, 4, "ABCD", map[Order][]uint16{
		ABCD: {0x4142, 0x4344}, CDAB: {0x4142, 0x4344}, BADC: {0x4241, 0x4443}, DCBA: {0x4241, 0x4443}}},
	{drivers.String, 3, "ABC", map[Order][]uint16{
		ABCD: {0x4142, 0x4300}, CDAB: {0x4142, 0x4300}, BADC: {0x4241, 0x0043}, DCBA: {0x4241, 0x0043}}},
	{drivers.String, 6, "Hi", map[Order][]uint16{
		ABCD: {0x4869, 0, 0}, CDAB: {0x4869, 0, 0}, BADC: {0x6948, 0, 0}, DCBA: {0x6948, 0, 0}}},
	{drivers.Bool, 0, true, map[Order][]uint16{ABCD: {1}, CDAB: {1}, BADC: {1}, DCBA: {1}}},
	{drivers.Bool, 0, false, map[Order][]uint16{ABCD: {0}, CDAB: {0}, BADC: {0}, DCBA: {0}}},
}

func TestGoldenMatrix(t *testing.T) {
	t.Parallel()
	seen := map[drivers.Type]bool{}
	for _, g := range golden {
		seen[g.typ] = true
		for _, o := range Orders {
			want, ok := g.words[o]
			if !ok {
				t.Fatalf("golden %s %v misses order %s", g.typ, g.value, o)
			}
			p := Point{Table: HoldingRegisters, Bit: -1, Type: g.typ, Length: g.length, Order: o}
			t.Run(fmt.Sprintf("%s/%v/%s", g.typ, g.value, o), func(t *testing.T) {
				t.Parallel()
				got, err := EncodeRegisters(p, g.value)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("encode %v as %s = %04X, want %04X", g.value, p, got, want)
				}
				v, err := DecodeRegisters(p, want)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if !reflect.DeepEqual(v, g.value) {
					t.Errorf("decode %04X as %s = %#v, want %#v", want, p, v, g.value)
				}
			})
		}
	}
	for ty := drivers.Bool; ty <= drivers.BCD32; ty++ {
		if !seen[ty] {
			t.Errorf("golden matrix misses type %s", ty)
		}
	}
}

func TestDecodeSpecial(t *testing.T) {
	t.Parallel()
	hr := func(ty drivers.Type, o Order) Point {
		return Point{Table: HoldingRegisters, Bit: -1, Type: ty, Order: o}
	}
	tests := []struct {
		name  string
		p     Point
		words []uint16
		want  any
		err   string
	}{
		{"bit 0 is LSB", Point{Table: HoldingRegisters, Addr: 10, Bit: 0, Type: drivers.Bool}, []uint16{0x0001}, true, ""},
		{"bit 15 is MSB", Point{Table: HoldingRegisters, Bit: 15, Type: drivers.Bool}, []uint16{0x8000}, true, ""},
		{"bit 3 clear", Point{Table: HoldingRegisters, Bit: 3, Type: drivers.Bool}, []uint16{0xFFF7}, false, ""},
		{"bit ignores order", Point{Table: InputRegisters, Bit: 8, Type: drivers.Bool, Order: DCBA}, []uint16{0x0100}, true, ""},
		{"bool on register nonzero", hr(drivers.Bool, ABCD), []uint16{0x0200}, true, ""},
		{"coil", Point{Table: Coils, Bit: -1, Type: drivers.Bool}, []uint16{1}, true, ""},
		{"string trims NUL and spaces", Point{Table: HoldingRegisters, Bit: -1, Type: drivers.String, Length: 6}, []uint16{0x4F4B, 0x2020, 0x0000}, "OK", ""},
		{"string keeps inner NUL", Point{Table: HoldingRegisters, Bit: -1, Type: drivers.String, Length: 4}, []uint16{0x4100, 0x4200}, "A\x00B", ""},
		{"string odd length drops pad byte", Point{Table: HoldingRegisters, Bit: -1, Type: drivers.String, Length: 1}, []uint16{0x5A5A}, "Z", ""},
		{"float32 NaN is returned", hr(drivers.Float32, ABCD), []uint16{0x7FC0, 0}, float32(math.NaN()), ""},
		{"float32 +Inf", hr(drivers.Float32, CDAB), []uint16{0, 0x7F80}, float32(math.Inf(1)), ""},
		{"bcd16 bad nibble", hr(drivers.BCD16, ABCD), []uint16{0x12A4}, nil, "nibble A"},
		{"bcd32 bad nibble", hr(drivers.BCD32, CDAB), []uint16{0x000F, 0}, nil, "nibble F"},
		{"wrong word count", hr(drivers.Float32, ABCD), []uint16{1}, nil, "got 1 words, want 2"},
		{"int on coil", Point{Table: Coils, Bit: -1, Type: drivers.Int16}, []uint16{1}, nil, "only bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := DecodeRegisters(tt.p, tt.words)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f, ok := tt.want.(float32); ok && math.IsNaN(float64(f)) {
				if g, ok := v.(float32); !ok || !math.IsNaN(float64(g)) {
					t.Fatalf("got %#v, want NaN", v)
				}
				return
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Fatalf("got %#v, want %#v", v, tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	hr := func(ty drivers.Type) Point { return Point{Table: HoldingRegisters, Bit: -1, Type: ty, Length: 4} }
	tests := []struct {
		name string
		p    Point
		v    any
		err  string
	}{
		{"int for float32", hr(drivers.Float32), 1, "is int, want float32"},
		{"float64 for float32", hr(drivers.Float32), 1.5, "is float64, want float32"},
		{"uint16 for int16", hr(drivers.Int16), uint16(1), "want int16"},
		{"nil", hr(drivers.Uint16), nil, "want uint16"},
		{"string too long", hr(drivers.String), "ABCDE", "longer than length 4"},
		{"bcd16 range", hr(drivers.BCD16), uint16(10000), "0..9999"},
		{"bcd32 range", hr(drivers.BCD32), uint32(100000000), "0..99999999"},
		{"register bit", Point{Table: HoldingRegisters, Bit: 3, Type: drivers.Bool}, true, "read-modify-write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := EncodeRegisters(tt.p, tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestSetBit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		word uint16
		bit  int
		on   bool
		want uint16
	}{
		{0x0000, 0, true, 0x0001},
		{0x0000, 15, true, 0x8000},
		{0xFFFF, 3, false, 0xFFF7},
		{0x1234, 4, true, 0x1234},
		{0x1234, 4, false, 0x1224},
		{0x1234, 16, true, 0x1234}, // out of range: unchanged
		{0x1234, -1, true, 0x1234},
	}
	for _, tt := range tests {
		if got := SetBit(tt.word, tt.bit, tt.on); got != tt.want {
			t.Errorf("SetBit(%04X, %d, %v) = %04X, want %04X", tt.word, tt.bit, tt.on, got, tt.want)
		}
	}
}

// FuzzDecode decodes any words as any type in any order: never a panic, and
// where the value is a faithful image of the words, encoding it gives the
// same words back.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(drivers.Float32), uint8(CDAB), uint8(4), []byte{0x3F, 0x80, 0, 0})
	f.Add(uint8(drivers.Float64), uint8(DCBA), uint8(8), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(drivers.String), uint8(BADC), uint8(5), []byte("hello!"))
	f.Add(uint8(drivers.BCD32), uint8(ABCD), uint8(4), []byte{0x12, 0x34, 0x56, 0x78})
	f.Add(uint8(drivers.BCD16), uint8(ABCD), uint8(2), []byte{0x12, 0xAB})
	f.Add(uint8(drivers.Bool), uint8(ABCD), uint8(0), []byte{0, 2})
	f.Add(uint8(99), uint8(9), uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, ty, order, length uint8, raw []byte) {
		p := Point{Table: HoldingRegisters, Bit: -1, Type: drivers.Type(ty), Order: Order(order % 4), Length: int(length)}
		n := p.Count()
		words := make([]uint16, len(raw)/2)
		for i := range words {
			words[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		v, err := DecodeRegisters(p, words)
		if err != nil || n == 0 || len(words) != n {
			return
		}
		switch x := v.(type) {
		case bool:
			return // nonzero words all read true
		case float32:
			if x != x {
				return // NaN payloads are not kept by every platform
			}
		case float64:
			if x != x {
				return
			}
		case string:
			// Trimmed trailing NUL/space and bytes past length are not kept.
			return
		}
		back, err := EncodeRegisters(p, v)
		if err != nil {
			t.Fatalf("encode %#v as %s: %v", v, p, err)
		}
		if !reflect.DeepEqual(back, words) {
			t.Fatalf("%s: words %04X -> %#v -> %04X", p, words, v, back)
		}
	})
}

// FuzzStringRoundTrip checks the string case FuzzDecode skips: a string
// without NULs or trailing spaces survives encode and decode.
func FuzzStringRoundTrip(f *testing.F) {
	f.Add("Press 3", uint8(8), uint8(BADC))
	f.Add("x", uint8(1), uint8(ABCD))
	f.Fuzz(func(t *testing.T, s string, length, order uint8) {
		p := Point{Table: HoldingRegisters, Bit: -1, Type: drivers.String, Length: int(length), Order: Order(order % 4)}
		words, err := EncodeRegisters(p, s)
		if err != nil {
			return
		}
		v, err := DecodeRegisters(p, words)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimRight(s, "\x00 "); v != want {
			t.Fatalf("%q -> %04X -> %q", s, words, v)
		}
	})
}

func BenchmarkDecodeFloat32(b *testing.B) {
	p := Point{Table: HoldingRegisters, Bit: -1, Type: drivers.Float32, Order: CDAB}
	words := []uint16{0xE979, 0x42F6}
	for b.Loop() {
		if _, err := DecodeRegisters(p, words); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeFast is the scan's shortcut for 16- and 32-bit numbers: it must give
// exactly what DecodeRegisters gives, at any offset in a reply.
func TestDecodeFast(t *testing.T) {
	t.Parallel()
	words := []uint16{0x1234, 0xBF80, 0x0000, 0x7FC0, 0x8001, 0xFFFF}
	types := []drivers.Type{drivers.Int16, drivers.Uint16, drivers.Int32, drivers.Uint32, drivers.Float32}
	for _, ty := range types {
		for _, o := range []Order{ABCD, CDAB, BADC, DCBA} {
			p := Point{Table: HoldingRegisters, Bit: -1, Type: ty, Order: o}
			for off := 0; off+p.Count() <= len(words); off++ {
				want, err := DecodeRegisters(p, words[off:off+p.Count()])
				if err != nil {
					t.Fatalf("%s %s: %v", ty, o, err)
				}
				got, ok := decodeFast(&p, words, off)
				if !ok || !sameValue(got, want) {
					t.Errorf("%s %s at %d: decodeFast %v (%T, ok %v), DecodeRegisters %v (%T)", ty, o, off, got, got, ok, want, want)
				}
			}
		}
	}
	// Everything else, and values past the reply, go the general way.
	for _, p := range []Point{
		{Table: HoldingRegisters, Bit: 3, Type: drivers.Bool},
		{Table: Coils, Bit: -1, Type: drivers.Bool},
		{Table: HoldingRegisters, Bit: -1, Type: drivers.Float64},
		{Table: HoldingRegisters, Bit: -1, Type: drivers.BCD16},
		{Table: HoldingRegisters, Bit: -1, Type: drivers.String, Length: 2},
	} {
		if v, ok := decodeFast(&p, words, 0); ok {
			t.Errorf("%s: decodeFast took it (%v)", p, v)
		}
	}
	p := Point{Table: HoldingRegisters, Bit: -1, Type: drivers.Float32}
	if _, ok := decodeFast(&p, words, len(words)-1); ok {
		t.Error("decodeFast read past the reply")
	}
}

func FuzzDecodeFast(f *testing.F) {
	f.Add(uint8(drivers.Float32), uint8(CDAB), uint8(1), []byte{0, 0, 0x3F, 0x80, 0, 0})
	f.Add(uint8(drivers.Int16), uint8(BADC), uint8(0), []byte{0x80, 0x01})
	f.Add(uint8(drivers.Uint32), uint8(DCBA), uint8(3), []byte{1, 2})
	f.Fuzz(func(t *testing.T, ty, order, off uint8, raw []byte) {
		p := Point{Table: HoldingRegisters, Bit: -1, Type: drivers.Type(ty), Order: Order(order % 4)}
		words := make([]uint16, len(raw)/2)
		for i := range words {
			words[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		got, ok := decodeFast(&p, words, int(off))
		if !ok {
			return
		}
		want, err := DecodeRegisters(p, words[int(off):int(off)+p.Count()])
		if err != nil {
			t.Fatalf("decodeFast took %s at %d but DecodeRegisters fails: %v", p, off, err)
		}
		if !sameValue(got, want) {
			t.Fatalf("%s at %d: decodeFast %v (%T), DecodeRegisters %v (%T)", p, off, got, got, want, want)
		}
	})
}

// sameValue compares decoded values, float32 NaNs by their bits.
func sameValue(a, b any) bool {
	if x, ok := a.(float32); ok {
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	}
	return a == b
}
