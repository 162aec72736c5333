package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/tagbridge/tagbridge/drivers"
)

// DecodeRegisters turns the words of one point into its value, in the Go
// type of p.Type (see drivers.Type.Zero): bool, int16, uint16, int32, uint32,
// int64, uint64, float32, float64, string, uint16 for bcd16, uint32 for bcd32.
// len(words) must be p.Count().
//
// For coils and discrete inputs words[0] is the bit (nonzero = true). A
// register bit reads bit p.Bit of words[0]; bool on a whole register is
// words[0] != 0. NaN and Inf are returned as they are: the NaN policy is the
// mapping layer's. A BCD nibble above 9 is an error.
func DecodeRegisters(p Point, words []uint16) (any, error) {
	if n := p.Count(); len(words) != n {
		return nil, fmt.Errorf("modbus: decode %s: got %d words, want %d", p, len(words), n)
	}
	if p.Type == drivers.Bool {
		if p.Bit >= 0 {
			return words[0]>>uint(p.Bit)&1 == 1, nil
		}
		return words[0] != 0, nil
	}
	if p.Table.IsBits() {
		return nil, fmt.Errorf("modbus: decode %s: a bit table holds only bool", p)
	}
	if p.Type == drivers.String {
		return decodeString(words, p.Length, p.Order), nil
	}
	var buf [8]byte
	b := buf[:2*len(words)]
	if len(words) > 4 {
		return nil, fmt.Errorf("modbus: decode %s: unsupported type", p)
	}
	valueBytes(b, words, p.Order)
	switch p.Type {
	case drivers.Int16:
		return int16(binary.BigEndian.Uint16(b)), nil
	case drivers.Uint16:
		return binary.BigEndian.Uint16(b), nil
	case drivers.Int32:
		return int32(binary.BigEndian.Uint32(b)), nil
	case drivers.Uint32:
		return binary.BigEndian.Uint32(b), nil
	case drivers.Int64:
		return int64(binary.BigEndian.Uint64(b)), nil
	case drivers.Uint64:
		return binary.BigEndian.Uint64(b), nil
	case drivers.Float32:
		return math.Float32frombits(binary.BigEndian.Uint32(b)), nil
	case drivers.Float64:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case drivers.BCD16:
		v, err := fromBCD(uint64(binary.BigEndian.Uint16(b)), 4)
		if err != nil {
			return nil, fmt.Errorf("modbus: decode %s: %w", p, err)
		}
		return uint16(v), nil
	case drivers.BCD32:
		v, err := fromBCD(uint64(binary.BigEndian.Uint32(b)), 8)
		if err != nil {
			return nil, fmt.Errorf("modbus: decode %s: %w", p, err)
		}
		return uint32(v), nil
	}
	return nil, fmt.Errorf("modbus: decode %s: unsupported type", p)
}

// decodeFast decodes the one- and two-register numeric types at words[off:]
// (the bulk of most tag maps) without DecodeRegisters' generic byte
// shuffle; ok is false for every other point, which the caller hands to
// DecodeRegisters. The result is exactly DecodeRegisters' (TestDecodeFast).
func decodeFast(p *Point, words []uint16, off int) (v any, ok bool) {
	if p.Bit >= 0 || p.Table.IsBits() || off < 0 {
		return nil, false
	}
	var u uint32 // the value's bytes in ABCD order
	switch p.Type {
	case drivers.Int16, drivers.Uint16:
		if off >= len(words) {
			return nil, false
		}
		w := words[off]
		if p.Order.byteSwapped() {
			w = w<<8 | w>>8
		}
		if p.Type == drivers.Int16 {
			return int16(w), true
		}
		return w, true
	case drivers.Int32, drivers.Uint32, drivers.Float32:
		if off+1 >= len(words) {
			return nil, false
		}
		hi, lo := words[off], words[off+1]
		if p.Order.wordSwapped() {
			hi, lo = lo, hi
		}
		if p.Order.byteSwapped() {
			hi, lo = hi<<8|hi>>8, lo<<8|lo>>8
		}
		u = uint32(hi)<<16 | uint32(lo)
	default:
		return nil, false
	}
	switch p.Type {
	case drivers.Int32:
		return int32(u), true
	case drivers.Uint32:
		return u, true
	}
	return math.Float32frombits(u), true
}

// EncodeRegisters is the inverse of DecodeRegisters: it returns the p.Count()
// words to write. v must be exactly the Go type of p.Type. Strings are padded
// with NUL bytes to p.Length (longer strings are an error); BCD values must
// fit (bcd16 0..9999, bcd32 0..99999999). Coils and bool on a whole register
// encode as 1 or 0.
//
// A register bit (p.Bit >= 0) cannot be encoded alone: the other 15 bits must
// be read first. The caller reads the register and writes
// SetBit(word, p.Bit, v), serialized on the link.
func EncodeRegisters(p Point, v any) ([]uint16, error) {
	if p.Bit >= 0 {
		return nil, fmt.Errorf("modbus: encode %s: a register bit needs a read-modify-write (SetBit)", p)
	}
	if !p.Type.Holds(v) {
		return nil, fmt.Errorf("modbus: encode %s: value %v is %T, want %T", p, v, v, p.Type.Zero())
	}
	if p.Type == drivers.Bool {
		if v.(bool) {
			return []uint16{1}, nil
		}
		return []uint16{0}, nil
	}
	if p.Table.IsBits() {
		return nil, fmt.Errorf("modbus: encode %s: a bit table holds only bool", p)
	}
	if p.Type == drivers.String {
		s := v.(string)
		if len(s) > p.Length {
			return nil, fmt.Errorf("modbus: encode %s: string of %d bytes is longer than length %d", p, len(s), p.Length)
		}
		return encodeString(s, p.Length, p.Order), nil
	}
	var buf [8]byte
	var b []byte
	switch p.Type {
	case drivers.Int16:
		b = binary.BigEndian.AppendUint16(buf[:0], uint16(v.(int16)))
	case drivers.Uint16:
		b = binary.BigEndian.AppendUint16(buf[:0], v.(uint16))
	case drivers.Int32:
		b = binary.BigEndian.AppendUint32(buf[:0], uint32(v.(int32)))
	case drivers.Uint32:
		b = binary.BigEndian.AppendUint32(buf[:0], v.(uint32))
	case drivers.Int64:
		b = binary.BigEndian.AppendUint64(buf[:0], uint64(v.(int64)))
	case drivers.Uint64:
		b = binary.BigEndian.AppendUint64(buf[:0], v.(uint64))
	case drivers.Float32:
		b = binary.BigEndian.AppendUint32(buf[:0], math.Float32bits(v.(float32)))
	case drivers.Float64:
		b = binary.BigEndian.AppendUint64(buf[:0], math.Float64bits(v.(float64)))
	case drivers.BCD16:
		n := v.(uint16)
		if n > 9999 {
			return nil, fmt.Errorf("modbus: encode %s: %d does not fit in 4 BCD digits (0..9999)", p, n)
		}
		b = binary.BigEndian.AppendUint16(buf[:0], uint16(toBCD(uint64(n))))
	case drivers.BCD32:
		n := v.(uint32)
		if n > 99999999 {
			return nil, fmt.Errorf("modbus: encode %s: %d does not fit in 8 BCD digits (0..99999999)", p, n)
		}
		b = binary.BigEndian.AppendUint32(buf[:0], uint32(toBCD(uint64(n))))
	default:
		return nil, fmt.Errorf("modbus: encode %s: unsupported type", p)
	}
	words := make([]uint16, len(b)/2)
	wordBytes(words, b, p.Order)
	return words, nil
}

// SetBit returns word with bit (0 = least significant) set or cleared.
func SetBit(word uint16, bit int, on bool) uint16 {
	if bit < 0 || bit > 15 {
		return word
	}
	if on {
		return word | 1<<uint(bit)
	}
	return word &^ (1 << uint(bit))
}

// valueBytes writes the bytes of a value, most significant first, from the
// wire words in order o. len(dst) == 2*len(words).
//
// ABCD: words in order, high byte first (big endian).
// CDAB: words in reverse order, high byte first ("word swap").
// BADC: words in order, low byte first ("byte swap").
// DCBA: words in reverse order, low byte first (little endian).
func valueBytes(dst []byte, words []uint16, o Order) {
	n := len(words)
	for i := range n {
		w := words[i]
		if o.wordSwapped() {
			w = words[n-1-i]
		}
		if o.byteSwapped() {
			w = w<<8 | w>>8
		}
		dst[2*i] = byte(w >> 8)
		dst[2*i+1] = byte(w)
	}
}

// wordBytes is the inverse of valueBytes.
func wordBytes(words []uint16, src []byte, o Order) {
	n := len(words)
	for i := range n {
		w := uint16(src[2*i])<<8 | uint16(src[2*i+1])
		if o.byteSwapped() {
			w = w<<8 | w>>8
		}
		if o.wordSwapped() {
			words[n-1-i] = w
		} else {
			words[i] = w
		}
	}
}

// decodeString reads length bytes from words. Characters are stored in
// register order (never word-swapped); ABCD/CDAB put the first character in
// the high byte of each register, BADC/DCBA in the low byte. Trailing NULs
// and spaces are trimmed; other bytes are returned as they are.
func decodeString(words []uint16, length int, o Order) string {
	b := make([]byte, 0, 2*len(words))
	for _, w := range words {
		if o.byteSwapped() {
			b = append(b, byte(w), byte(w>>8))
		} else {
			b = append(b, byte(w>>8), byte(w))
		}
	}
	if length < len(b) {
		b = b[:length]
	}
	return strings.TrimRight(string(b), "\x00 ")
}

func encodeString(s string, length int, o Order) []uint16 {
	b := make([]byte, 2*((length+1)/2))
	copy(b, s)
	words := make([]uint16, len(b)/2)
	for i := range words {
		hi, lo := b[2*i], b[2*i+1]
		if o.byteSwapped() {
			hi, lo = lo, hi
		}
		words[i] = uint16(hi)<<8 | uint16(lo)
	}
	return words
}

// fromBCD decodes digits nibbles of packed BCD (most significant first).
func fromBCD(raw uint64, digits int) (uint64, error) {
	var v uint64
	for i := digits - 1; i >= 0; i-- {
		d := raw >> (4 * uint(i)) & 0xF
		if d > 9 {
			return 0, fmt.Errorf("invalid BCD 0x%0*X: nibble %X is not a decimal digit", digits, raw, d)
		}
		v = v*10 + d
	}
	return v, nil
}

func toBCD(v uint64) uint64 {
	var raw uint64
	for shift := uint(0); v > 0; shift += 4 {
		raw |= (v % 10) << shift
		v /= 10
	}
	return raw
}
