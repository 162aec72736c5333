package modbus

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestDecodings(t *testing.T) {
	t.Parallel()
	// 123.456 as float32 CDAB, then "OK" and pi as float64 ABCD.
	words := []uint16{0xE979, 0x42F6, 0x4F4B, 0x4009, 0x21FB, 0x5444, 0x2D18}
	ds := Decodings(words)
	find := func(off int, ty drivers.Type, o Order) (string, bool) {
		for _, d := range ds {
			if d.Offset == off && d.Type == ty && d.Order == o {
				return d.Value, true
			}
		}
		return "", false
	}
	tests := []struct {
		off  int
		ty   drivers.Type
		o    Order
		want string
	}{
		{0, drivers.Float32, CDAB, "123.456"},
		{0, drivers.Uint16, ABCD, "59769"},
		{0, drivers.Int16, ABCD, "-5767"},
		{0, drivers.Uint16, BADC, "31209"},
		{2, drivers.BCD16, ABCD, ""}, // 0x4F4B is not BCD: no decoding
		{3, drivers.Float64, ABCD, "3.141592653589793"},
		{3, drivers.BCD16, ABCD, "4009"},
		{0, drivers.String, ABCD, `"\xe9yB\xf6OK@\t!\xfbTD-\x18"`},
	}
	for _, tt := range tests {
		got, ok := find(tt.off, tt.ty, tt.o)
		if tt.want == "" {
			if ok {
				t.Errorf("offset %d %s %s: got %s, want none", tt.off, tt.ty, tt.o, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("offset %d %s %s = %q (found %v), want %q", tt.off, tt.ty, tt.o, got, ok, tt.want)
		}
	}
	// 64-bit decodings exist only where four words remain.
	if _, ok := find(4, drivers.Float64, ABCD); ok {
		t.Error("float64 at offset 4 of 7 words")
	}
	if _, ok := find(6, drivers.Float32, ABCD); ok {
		t.Error("float32 at the last word")
	}
	if len(Decodings(nil)) != 0 {
		t.Error("decodings of no words")
	}
}

func TestWriteDecodings(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteDecodings(&b, HoldingRegisters, 10, []uint16{0x0000, 0x3F80, 0x4142}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"3 registers from hr:10 (40011), fc3",
		"hr:11 (40012)  0x3F80",
		"float32", // the CDAB column of offset 0 holds 1
		`string ABCD (high byte first)  "\x00\x00?\x80AB"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "hr:10 (40011)") && strings.Contains(l, "float32") {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) != 7 || f[4] != "1" {
		t.Errorf("float32 row at hr:10 = %q, want CDAB column 1", row)
	}
	b.Reset()
	if err := WriteDecodings(&b, Coils, 0, []uint16{1, 0}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "coil:0 (00001)  true") || !strings.Contains(b.String(), "2 bits from coil:0") {
		t.Errorf("coil output:\n%s", b.String())
	}
}
