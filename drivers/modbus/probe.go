package modbus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tagbridge/tagbridge/drivers"
)

// Decoding is one way to read some of the probed words.
type Decoding struct {
	Offset int          // index of the first word
	Type   drivers.Type // int16 ... bcd32, string
	Order  Order        // ABCD for 16-bit types read as they are; the string's byte order for string
	Value  string       // the value as text; strings quoted
}

// Decodings lists every decoding of words, for `tagbridge probe`: per word
// int16 and uint16 (ABCD, and BADC with the bytes swapped); per pair of words
// int32, uint32 and float32 in the four orders; per four words int64, uint64
// and float64 in the four orders; bcd16 and bcd32 where the nibbles are
// decimal; and the whole range as a string in both byte orders. Offsets
// ascend; within an offset the order is by type, then by order.
func Decodings(words []uint16) []Decoding {
	var out []Decoding
	add := func(off int, t drivers.Type, o Order, n int) {
		p := Point{Table: HoldingRegisters, Bit: -1, Type: t, Order: o}
		v, err := DecodeRegisters(p, words[off:off+n])
		if err != nil {
			return // not a valid decoding (BCD)
		}
		out = append(out, Decoding{Offset: off, Type: t, Order: o, Value: formatValue(v)})
	}
	for off := range words {
		for _, o := range []Order{ABCD, BADC} {
			add(off, drivers.Int16, o, 1)
			add(off, drivers.Uint16, o, 1)
			add(off, drivers.BCD16, o, 1)
		}
		for _, n := range []int{2, 4} {
			if off+n > len(words) {
				continue
			}
			types := []drivers.Type{drivers.Int32, drivers.Uint32, drivers.Float32, drivers.BCD32}
			if n == 4 {
				types = []drivers.Type{drivers.Int64, drivers.Uint64, drivers.Float64}
			}
			for _, t := range types {
				for _, o := range Orders {
					add(off, t, o, n)
				}
			}
		}
	}
	if len(words) > 0 {
		for _, o := range []Order{ABCD, BADC} {
			s := decodeString(words, 2*len(words), o)
			out = append(out, Decoding{Offset: 0, Type: drivers.String, Order: o, Value: strconv.Quote(s)})
		}
	}
	return out
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprint(v)
}

// WriteDecodings prints the raw words read from table t at PDU address start
// and every decoding of them (Decodings) as an aligned table, one row per
// offset and type, one column per order, so that the right type and order
// can be found in one look. For coils and discrete inputs it prints the bits.
func WriteDecodings(w io.Writer, t Table, start uint16, words []uint16) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	addr := func(off int) string {
		a := uint16(int(start) + off)
		return fmt.Sprintf("%s:%d (%s)", t, a, t.Modicon(a))
	}
	fmt.Fprintf(tw, "%d %s from %s, fc%d\n\n", len(words), unitWord(t, len(words)), addr(0), t.ReadFunction())
	if t.IsBits() {
		fmt.Fprintln(tw, "address\tvalue")
		for i, b := range words {
			fmt.Fprintf(tw, "%s\t%v\n", addr(i), b != 0)
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "address\thex\tbinary")
	for i, wd := range words {
		fmt.Fprintf(tw, "%s\t0x%04X\t%08b %08b\n", addr(i), wd, wd>>8, wd&0xFF)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "address\ttype\tABCD\tCDAB\tBADC\tDCBA")
	type key struct {
		off int
		t   drivers.Type
	}
	var rows []key
	cells := map[key]map[Order]string{}
	for _, d := range Decodings(words) {
		if d.Type == drivers.String {
			continue
		}
		k := key{d.Offset, d.Type}
		if cells[k] == nil {
			cells[k] = map[Order]string{}
			rows = append(rows, k)
		}
		cells[k][d.Order] = d.Value
	}
	for _, k := range rows {
		c := cells[k]
		if k.t.Registers(0) == 1 { // 16-bit: word order does not apply
			c[CDAB], c[DCBA] = "=", "="
		}
		fmt.Fprintf(tw, "%s\t%s", addr(k.off), k.t)
		for _, o := range Orders {
			v, ok := c[o]
			if !ok {
				v = "-" // e.g. not valid BCD
			}
			fmt.Fprintf(tw, "\t%s", v)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw)
	for _, d := range Decodings(words) {
		if d.Type == drivers.String {
			side := "high byte first"
			if d.Order.byteSwapped() {
				side = "low byte first"
			}
			fmt.Fprintf(tw, "string %s (%s)\t%s\n", d.Order, side, d.Value)
		}
	}
	return tw.Flush()
}

func unitWord(t Table, n int) string {
	s := "registers"
	if t.IsBits() {
		s = "bits"
	}
	if n == 1 {
		s = strings.TrimSuffix(s, "s")
	}
	return s
}
