package kepware

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/drivers/modbus"
	"go.yaml.in/yaml/v3"
)

// The columns of a KEPServerEX tag export, as Kepware names them.
const (
	colName       = "Tag Name"
	colAddress    = "Address"
	colType       = "Data Type"
	colRespect    = "Respect Data Type"
	colAccess     = "Client Access"
	colScan       = "Scan Rate"
	colScaling    = "Scaling"
	colRawLow     = "Raw Low"
	colRawHigh    = "Raw High"
	colScaledLow  = "Scaled Low"
	colScaledHigh = "Scaled High"
	colScaledType = "Scaled Data Type"
	colClampLow   = "Clamp Low"
	colClampHigh  = "Clamp High"
	colUnits      = "Eng Units"
	colDesc       = "Description"
	colNegate     = "Negate Value"
)

var knownColumns = []string{colName, colAddress, colType, colRespect, colAccess, colScan, colScaling,
	colRawLow, colRawHigh, colScaledLow, colScaledHigh, colScaledType, colClampLow, colClampHigh,
	colUnits, colDesc, colNegate}

// kepTypes maps Kepware data types (case-insensitive) to Tagbridge types.
var kepTypes = map[string]string{
	"boolean": "bool", "word": "uint16", "short": "int16", "dword": "uint32", "long": "int32",
	"float": "float32", "double": "float64", "string": "string", "bcd": "bcd16", "lbcd": "bcd32",
	"llong": "int64", "qword": "uint64",
}

// Tag is one converted tag, with the keys of a config tag (DESIGN.md section 5).
type Tag struct {
	Name        string `yaml:"name"`
	Address     string `yaml:"address"`
	Type        string `yaml:"type"`
	Length      int    `yaml:"length,omitempty"`
	ByteOrder   string `yaml:"byte_order,omitempty"`
	Access      string `yaml:"access,omitempty"`
	Scan        string `yaml:"scan,omitempty"`
	Scale       *Scale `yaml:"scale,omitempty,flow"`
	Unit        string `yaml:"unit,omitempty"`
	Description string `yaml:"description,omitempty"`
}

// Scale is the config's linear scaling: raw/eng ranges, or gain/offset.
type Scale struct {
	Raw    []float64 `yaml:"raw,omitempty"`
	Eng    []float64 `yaml:"eng,omitempty"`
	Gain   *float64  `yaml:"gain,omitempty"`
	Offset *float64  `yaml:"offset,omitempty"`
	Clamp  bool      `yaml:"clamp,omitempty"`
}

// Convert reads a KEPServerEX CSV tag export from r and writes the tags as
// YAML (a `tags:` list, ready to paste under a device) to w. Unknown columns
// and settings Tagbridge cannot express are returned as warnings; the first
// bad row is an error naming its row (line) number and column, and nothing
// is written.
func Convert(r io.Reader, w io.Writer) (warnings []string, err error) {
	tags, warnings, err := Parse(r)
	if err != nil {
		return warnings, err
	}
	return warnings, Write(w, tags)
}

// Parse reads the CSV into tags; see Convert.
func Parse(r io.Reader) (tags []Tag, warnings []string, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("kepware: empty file (want a header row: Tag Name, Address, Data Type, ...)")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("kepware: header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		known := ""
		for _, k := range knownColumns {
			if strings.EqualFold(h, k) {
				known = k
			}
		}
		switch {
		case known == "":
			warnings = append(warnings, fmt.Sprintf("kepware: column %d %q is unknown and ignored", i+1, h))
		case cols[known] != 0:
			return nil, warnings, fmt.Errorf("kepware: header: column %q appears twice", known)
		default:
			cols[known] = i + 1 // +1 so that 0 means absent
		}
	}
	for _, req := range []string{colName, colAddress, colType} {
		if cols[req] == 0 {
			return nil, warnings, fmt.Errorf("kepware: header: missing column %q (found %s)", req, strings.Join(header, ", "))
		}
	}
	names := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, warnings, fmt.Errorf("kepware: %w", err) // a csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rw := row{rec: rec, cols: cols, line: line}
		tag, ws, err := rw.convert()
		warnings = append(warnings, ws...)
		if err != nil {
			return nil, warnings, err
		}
		if prev, dup := names[tag.Name]; dup {
			return nil, warnings, fmt.Errorf("kepware: row %d, column %q: tag %q already defined in row %d", line, colName, tag.Name, prev)
		}
		names[tag.Name] = line
		tags = append(tags, tag)
	}
	return tags, warnings, nil
}

// Write writes tags as a YAML `tags:` list.
func Write(w io.Writer, tags []Tag) error {
	if tags == nil {
		tags = []Tag{}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Tags []Tag `yaml:"tags"`
	}{tags}); err != nil {
		return fmt.Errorf("kepware: write yaml: %w", err)
	}
	return enc.Close()
}

type row struct {
	rec  []string
	cols map[string]int
	line int
}

func (r row) get(col string) string {
	i := r.cols[col]
	if i == 0 || i > len(r.rec) {
		return ""
	}
	return strings.TrimSpace(r.rec[i-1])
}

func (r row) errorf(tag, col, format string, args ...any) error {
	who := fmt.Sprintf("row %d", r.line)
	if tag != "" {
		who += fmt.Sprintf(" (tag %q)", tag)
	}
	return fmt.Errorf("kepware: %s, column %q: %s", who, col, fmt.Sprintf(format, args...))
}

func (r row) convert() (Tag, []string, error) {
	var warnings []string
	warn := func(format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("kepware: row %d: ", r.line)+fmt.Sprintf(format, args...))
	}
	// Kepware separates groups with '.'; Tagbridge folders use '/'.
	name := strings.ReplaceAll(r.get(colName), ".", "/")
	t := Tag{Name: name, Unit: r.get(colUnits), Description: r.get(colDesc)}
	if name == "" {
		return t, warnings, r.errorf("", colName, "empty tag name")
	}
	kt := r.get(colType)
	typ, ok := kepTypes[strings.ToLower(kt)]
	if !ok {
		if strings.HasSuffix(strings.ToLower(kt), "array") {
			return t, warnings, r.errorf(name, colType, "arrays (%s) are not supported: export one tag per element", kt)
		}
		return t, warnings, r.errorf(name, colType, "unsupported data type %q (want Boolean, Word, Short, DWord, Long, Float, Double, String, BCD, LBCD, LLong or QWord)", kt)
	}
	t.Type = typ
	if err := r.address(&t); err != nil {
		return t, warnings, err
	}
	table, _, _, _ := modbus.ParseAddress(t.Address)

	switch a := strings.ToUpper(r.get(colAccess)); a {
	case "":
	case "RO", "READ ONLY":
		t.Access = "read"
	case "R/W", "RW", "READ/WRITE":
		t.Access = "readwrite"
		if !table.Writable() {
			warn("tag %q: %s is read-only in Modbus; access set to read", name, table)
			t.Access = "read"
		}
	default:
		return t, warnings, r.errorf(name, colAccess, "unknown client access %q (want RO or R/W)", r.get(colAccess))
	}

	if s := r.get(colScan); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms < 0 {
			return t, warnings, r.errorf(name, colScan, "scan rate %q is not a number of milliseconds", s)
		}
		if ms > 0 {
			t.Scan = (time.Duration(ms) * time.Millisecond).String()
		}
	}
	negate, err := r.flag(name, colNegate)
	if err != nil {
		return t, warnings, err
	}
	switch sc := strings.ToLower(r.get(colScaling)); sc {
	case "", "none":
		if negate {
			gain, off := -1.0, 0.0
			t.Scale = &Scale{Gain: &gain, Offset: &off}
		}
	case "linear":
		if t.Type == "bool" || t.Type == "string" {
			return t, warnings, r.errorf(name, colScaling, "linear scaling on a %s", t.Type)
		}
		var v [4]float64
		for i, c := range []string{colRawLow, colRawHigh, colScaledLow, colScaledHigh} {
			f, err := strconv.ParseFloat(r.get(c), 64)
			if err != nil {
				return t, warnings, r.errorf(name, c, "%q is not a number", r.get(c))
			}
			v[i] = f
		}
		if v[0] == v[1] {
			return t, warnings, r.errorf(name, colRawHigh, "raw high equals raw low (%g)", v[0])
		}
		if negate { // Kepware negates the scaled value
			v[2], v[3] = 0-v[2], 0-v[3] // 0-x, not -x: no "-0" in the YAML
		}
		t.Scale = &Scale{Raw: []float64{v[0], v[1]}, Eng: []float64{v[2], v[3]}}
		lo, err := r.flag(name, colClampLow)
		if err != nil {
			return t, warnings, err
		}
		hi, err := r.flag(name, colClampHigh)
		if err != nil {
			return t, warnings, err
		}
		t.Scale.Clamp = lo || hi
		if lo != hi {
			warn("tag %q: Kepware clamps only the %s end; Tagbridge clamps both", name, map[bool]string{true: "low", false: "high"}[lo])
		}
	case "square root":
		warn("tag %q: square root scaling is not supported; the raw value is used", name)
	default:
		return t, warnings, r.errorf(name, colScaling, "unknown scaling %q (want None, Linear or Square Root)", r.get(colScaling))
	}
	return t, warnings, nil
}

// address fills t.Address (and Length, ByteOrder for strings) from the
// Kepware address. Kepware writes Modicon addresses (5 or 6 digits) with
// optional suffixes: ".B" a bit of a register (Boolean), ".LLLH"/".LLLL" a
// string of LLL bytes, high or low byte first.
func (r row) address(t *Tag) error {
	raw := strings.ToUpper(strings.ReplaceAll(r.get(colAddress), " ", ""))
	if raw == "" {
		return r.errorf(t.Name, colAddress, "empty address")
	}
	if strings.ContainsAny(raw, "[]") {
		return r.errorf(t.Name, colAddress, "array address %q is not supported", raw)
	}
	base, suffix, hasDot := strings.Cut(raw, ".")
	t.Address = base
	switch {
	case t.Type == "string":
		if !hasDot || len(suffix) < 2 {
			return r.errorf(t.Name, colAddress, "string address %q needs a length and byte order suffix, e.g. 400001.020H", raw)
		}
		n, err := strconv.Atoi(suffix[:len(suffix)-1])
		if err != nil || n < 1 || n > modbus.MaxStringLength {
			return r.errorf(t.Name, colAddress, "string length %q in %q must be 1..%d", suffix[:len(suffix)-1], raw, modbus.MaxStringLength)
		}
		t.Length = n
		switch suffix[len(suffix)-1] {
		case 'H':
		case 'L':
			t.ByteOrder = "BADC"
		default:
			return r.errorf(t.Name, colAddress, "string address %q must end in H (high byte first) or L (low byte first)", raw)
		}
	case hasDot:
		if t.Type != "bool" {
			return r.errorf(t.Name, colAddress, "a bit address (%q) needs data type Boolean", raw)
		}
		bit, err := strconv.Atoi(suffix)
		if err != nil {
			return r.errorf(t.Name, colAddress, "bad bit %q in %q", suffix, raw)
		}
		t.Address = fmt.Sprintf("%s.%d", base, bit)
	}
	table, addr, _, err := modbus.ParseAddress(t.Address)
	if err != nil {
		return r.errorf(t.Name, colAddress, "%v", err)
	}
	if table.IsBits() && t.Type != "bool" {
		return r.errorf(t.Name, colType, "%s %s holds single bits: data type must be Boolean", table, raw)
	}
	if n := registers(t.Type, t.Length); !table.IsBits() && int(addr)+n > 65536 {
		return r.errorf(t.Name, colAddress, "%s:%d x%d runs past the last register", table, addr, n)
	}
	return nil
}

func registers(typ string, length int) int {
	switch typ {
	case "int32", "uint32", "float32", "bcd32":
		return 2
	case "int64", "uint64", "float64":
		return 4
	case "string":
		return (length + 1) / 2
	}
	return 1
}

func (r row) flag(name, col string) (bool, error) {
	switch strings.ToLower(r.get(col)) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, r.errorf(name, col, "%q is not 0 or 1", r.get(col))
}
