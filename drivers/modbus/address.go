package modbus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tagbridge/tagbridge/drivers"
)

// Table is one of the four Modbus data tables.
type Table uint8

// The Modbus data tables.
const (
	Coils            Table = iota + 1 // read/write bits, FC1 (read), FC5/FC15 (write)
	DiscreteInputs                    // read-only bits, FC2
	InputRegisters                    // read-only registers, FC4
	HoldingRegisters                  // read/write registers, FC3 (read), FC6/FC16 (write)
)

// String returns the prefix of the explicit address form: "coil", "di", "ir", "hr".
func (t Table) String() string {
	switch t {
	case Coils:
		return "coil"
	case DiscreteInputs:
		return "di"
	case InputRegisters:
		return "ir"
	case HoldingRegisters:
		return "hr"
	}
	return fmt.Sprintf("Table(%d)", uint8(t))
}

// IsBits reports whether t holds single bits (coils, discrete inputs).
func (t Table) IsBits() bool { return t == Coils || t == DiscreteInputs }

// Writable reports whether a master may write to t (coils, holding registers).
func (t Table) Writable() bool { return t == Coils || t == HoldingRegisters }

// ReadFunction is the function code that reads t: 1, 2, 4 or 3 (0 for an invalid table).
func (t Table) ReadFunction() uint8 {
	switch t {
	case Coils:
		return 1
	case DiscreteInputs:
		return 2
	case InputRegisters:
		return 4
	case HoldingRegisters:
		return 3
	}
	return 0
}

// modiconDigit is the leading digit of t in Modicon notation.
func (t Table) modiconDigit() byte {
	switch t {
	case Coils:
		return '0'
	case DiscreteInputs:
		return '1'
	case InputRegisters:
		return '3'
	case HoldingRegisters:
		return '4'
	}
	return '?'
}

// Modicon returns the one-based Modicon notation of a PDU address in t:
// five digits when the register number fits (40011), six otherwise (465536).
func (t Table) Modicon(addr uint16) string {
	n := int(addr) + 1
	if n <= 9999 {
		return fmt.Sprintf("%c%04d", t.modiconDigit(), n)
	}
	return fmt.Sprintf("%c%05d", t.modiconDigit(), n)
}

// ParseAddress parses a Modbus address as written in the config (DESIGN.md
// section 6) into its table, zero-based PDU address and bit (-1 when the
// address names a whole register or a coil/discrete input).
//
// Accepted forms:
//   - Modicon, one-based, 5 digits: 00001-09999 coils, 10001-19999 discrete
//     inputs, 30001-39999 input registers, 40001-49999 holding registers;
//   - Modicon, one-based, 6 digits: 000001-065536, 100001-165536,
//     300001-365536, 400001-465536;
//   - explicit, zero-based: coil:N, di:N, ir:N, hr:N with N decimal or hex
//     (0x10), prefixes case-insensitive;
//   - a register bit: a ".B" suffix (B = 0..15, 0 = least significant) on an
//     input or holding register address: 40011.3, hr:10.3.
func ParseAddress(s string) (t Table, addr uint16, bit int, err error) {
	t, addr, bit, err = parseAddress(strings.TrimSpace(s))
	if err != nil {
		return 0, 0, -1, fmt.Errorf("modbus: address %q: %w", s, err)
	}
	return t, addr, bit, nil
}

func parseAddress(s string) (Table, uint16, int, error) {
	if s == "" {
		return 0, 0, -1, errors.New("empty address")
	}
	body, bit := s, -1
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		body = s[:i]
		b, err := parseBit(s[i+1:])
		if err != nil {
			return 0, 0, -1, err
		}
		bit = b
	}
	var (
		t    Table
		addr uint16
		err  error
	)
	if i := strings.IndexByte(body, ':'); i >= 0 {
		t, addr, err = parseExplicit(body[:i], body[i+1:])
	} else {
		t, addr, err = parseModicon(body)
	}
	if err != nil {
		return 0, 0, -1, err
	}
	if bit >= 0 && t.IsBits() {
		return 0, 0, -1, fmt.Errorf("a bit suffix (.%d) is only allowed on registers (ir, hr), not on %s", bit, t)
	}
	return t, addr, bit, nil
}

func parseBit(s string) (int, error) {
	if s == "" || len(s) > 2 || !allDigits(s) {
		return -1, fmt.Errorf("bad bit %q after '.' (want 0..15)", s)
	}
	b, _ := strconv.Atoi(s)
	if b > 15 {
		return -1, fmt.Errorf("bit %d out of range (a register has bits 0..15, 0 = least significant)", b)
	}
	return b, nil
}

func parseExplicit(prefix, num string) (Table, uint16, error) {
	var t Table
	switch strings.ToLower(strings.TrimSpace(prefix)) {
	case "coil", "co":
		t = Coils
	case "di":
		t = DiscreteInputs
	case "ir":
		t = InputRegisters
	case "hr":
		t = HoldingRegisters
	default:
		return 0, 0, fmt.Errorf("unknown table %q (want coil, di, ir or hr)", prefix)
	}
	num = strings.TrimSpace(num)
	var (
		n   uint64
		err error
	)
	switch {
	case num == "":
		return 0, 0, fmt.Errorf("missing number after %q", t.String()+":")
	case len(num) > 2 && (num[:2] == "0x" || num[:2] == "0X"):
		if !allHex(num[2:]) {
			return 0, 0, fmt.Errorf("bad hex number %q", num)
		}
		n, err = strconv.ParseUint(num[2:], 16, 64)
	case allDigits(num):
		n, err = strconv.ParseUint(num, 10, 64)
	default:
		return 0, 0, fmt.Errorf("bad number %q (want decimal or 0x hex, zero-based)", num)
	}
	if err != nil || n > 65535 {
		return 0, 0, fmt.Errorf("%s:%s out of range (zero-based PDU addresses are 0..65535)", t, num)
	}
	return t, uint16(n), nil
}

func parseModicon(s string) (Table, uint16, error) {
	if !allDigits(s) {
		return 0, 0, errors.New("not a Modicon number (5 or 6 digits, e.g. 40001) nor a table:number form (e.g. hr:0)")
	}
	if len(s) != 5 && len(s) != 6 {
		return 0, 0, fmt.Errorf("Modicon addresses have 5 or 6 digits (e.g. 40001 or 400001), got %d; for a zero-based PDU address write hr:N", len(s))
	}
	var t Table
	switch s[0] {
	case '0':
		t = Coils
	case '1':
		t = DiscreteInputs
	case '3':
		t = InputRegisters
	case '4':
		t = HoldingRegisters
	default:
		return 0, 0, fmt.Errorf("unknown Modicon table digit %c (0 coils, 1 discrete inputs, 3 input registers, 4 holding registers)", s[0])
	}
	n, _ := strconv.Atoi(s[1:])
	if n == 0 {
		return 0, 0, fmt.Errorf("register 0 does not exist in Modicon notation (one-based: %c%0*d is %s:0)", s[0], len(s)-1, 1, t)
	}
	if n > 65536 {
		return 0, 0, fmt.Errorf("register %d out of range (Modicon six-digit addresses go up to %c65536 = %s:65535)", n, s[0], t)
	}
	return t, uint16(n - 1), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// Order is the byte/word order of a register value (DESIGN.md section 6).
// The letters name the bytes of the value, A the most significant, in the
// order they appear on the wire (register 0 high byte first).
type Order uint8

// The four orders. For 64-bit values the same names apply over four words
// (see docs/modbus.md): CDAB is "word swap" (the four words in reverse order,
// big-endian inside each word), BADC swaps the bytes inside each word, DCBA is
// fully little endian.
const (
	ABCD Order = iota // big endian
	CDAB              // word swap
	BADC              // byte swap
	DCBA              // little endian
)

var orderNames = [...]string{ABCD: "ABCD", CDAB: "CDAB", BADC: "BADC", DCBA: "DCBA"}

// Orders lists every order, for the probe and tests.
var Orders = [...]Order{ABCD, CDAB, BADC, DCBA}

func (o Order) String() string {
	if int(o) < len(orderNames) {
		return orderNames[o]
	}
	return fmt.Sprintf("Order(%d)", uint8(o))
}

// ParseOrder parses ABCD, CDAB, BADC or DCBA (case-insensitive). An empty
// string is an error: the caller decides the default.
func ParseOrder(s string) (Order, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range orderNames {
		if n == u {
			return Order(i), nil
		}
	}
	return 0, fmt.Errorf("modbus: unknown byte order %q (want ABCD, CDAB, BADC or DCBA)", s)
}

// byteSwapped reports whether o swaps the two bytes inside each register.
func (o Order) byteSwapped() bool { return o == BADC || o == DCBA }

// wordSwapped reports whether o reverses the order of the registers.
func (o Order) wordSwapped() bool { return o == CDAB || o == DCBA }

// MaxStringLength is the longest string a point may hold: 125 registers.
const MaxStringLength = 250

// Point is one parsed, validated Modbus value.
type Point struct {
	Table  Table
	Addr   uint16 // zero-based PDU address of the first register/bit
	Bit    int    // -1: whole value; 0..15: a bit inside a register (hr/ir only), bit 0 = LSB
	Type   drivers.Type
	Length int // string length in bytes (0 for other types)
	Order  Order
}

// Count is the number of registers (or bits, for coils and discrete inputs)
// the value spans.
func (p Point) Count() int {
	if p.Table.IsBits() || p.Bit >= 0 {
		return 1
	}
	return p.Type.Registers(p.Length)
}

// End is one past the last register (or bit) of the value, as an int so that
// a value ending at 65535 does not overflow.
func (p Point) End() int { return int(p.Addr) + p.Count() }

// Function is the function code that reads the point.
func (p Point) Function() uint8 { return p.Table.ReadFunction() }

// String shows the point as logs and errors should: always the zero-based PDU
// address and the function code, then the Modicon form the user may know,
// e.g. "hr:10 (40011, fc3) x2 float32 CDAB".
func (p Point) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d", p.Table, p.Addr)
	if p.Bit >= 0 {
		fmt.Fprintf(&b, ".%d (%s.%d, fc%d)", p.Bit, p.Table.Modicon(p.Addr), p.Bit, p.Function())
	} else {
		fmt.Fprintf(&b, " (%s, fc%d)", p.Table.Modicon(p.Addr), p.Function())
	}
	if n := p.Count(); n > 1 {
		fmt.Fprintf(&b, " x%d", n)
	}
	b.WriteString(" " + p.Type.String())
	if p.Type == drivers.String {
		fmt.Fprintf(&b, "[%d]", p.Length)
	}
	if p.hasOrder() {
		b.WriteString(" " + p.Order.String())
	}
	return b.String()
}

// hasOrder reports whether the order changes how the point is decoded.
func (p Point) hasOrder() bool {
	return !p.Table.IsBits() && p.Bit < 0 && p.Type != drivers.Bool && p.Type != drivers.Invalid
}

// ParsePoint parses and checks one configured address. a.Order overrides
// def when set. The rules:
//   - coils and discrete inputs hold type bool only;
//   - a register bit (.B) is type bool only; the bit numbers the register as
//     it is on the wire, whatever the order;
//   - bool on a whole register is allowed: nonzero reads true, true writes 1;
//   - an unset type (drivers.Invalid) means bool on coils, discrete inputs and
//     register bits, and is an error on a whole register;
//   - string needs Length 1..250 bytes; Length is ignored for other types;
//   - the value must end inside the 65536 addresses and span at most 125
//     registers (the protocol limit of one read).
func ParsePoint(a drivers.Address, def Order) (Point, error) {
	t, addr, bit, err := ParseAddress(a.Addr)
	if err != nil {
		return Point{}, err
	}
	p := Point{Table: t, Addr: addr, Bit: bit, Type: a.Type, Order: def}
	if a.Order != "" {
		if p.Order, err = ParseOrder(a.Order); err != nil {
			return Point{}, err
		}
	}
	fail := func(format string, args ...any) (Point, error) {
		return Point{}, fmt.Errorf("modbus: address %q (%s:%d, fc%d): %s", a.Addr, t, addr, t.ReadFunction(), fmt.Sprintf(format, args...))
	}
	if p.Type == drivers.Invalid && (t.IsBits() || bit >= 0) {
		p.Type = drivers.Bool
	}
	switch {
	case p.Type == drivers.Invalid:
		return fail("a type is required on a register (bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bcd16, bcd32)")
	case p.Type.Registers(1) == 0:
		return fail("unknown type %s", p.Type)
	case t.IsBits() && p.Type != drivers.Bool:
		return fail("%s holds single bits: type must be bool, not %s", tableLong(t), p.Type)
	case bit >= 0 && p.Type != drivers.Bool:
		return fail("a register bit (.%d) must be type bool, not %s", bit, p.Type)
	}
	if p.Type == drivers.String {
		if a.Length <= 0 || a.Length > MaxStringLength {
			return fail("string needs length 1..%d bytes, got %d", MaxStringLength, a.Length)
		}
		p.Length = a.Length
	}
	if n := p.Count(); n > 125 {
		return fail("%s spans %d registers, more than one read may hold (125)", p.Type, n)
	}
	if p.End() > 65536 {
		return fail("%s spans %d registers and runs past the last address (%s:65535)", p.Type, p.Count(), t)
	}
	return p, nil
}

func tableLong(t Table) string {
	switch t {
	case Coils:
		return "a coil"
	case DiscreteInputs:
		return "a discrete input"
	}
	return t.String()
}
