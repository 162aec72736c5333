package drivers

import (
	"fmt"
	"strings"
)

// Type is the raw data type of a point.
type Type uint8

// Raw data types (DESIGN.md section 6). Go types in brackets.
const (
	Invalid Type = iota
	Bool         // bool
	Int16        // int16
	Uint16       // uint16
	Int32        // int32
	Uint32       // uint32
	Int64        // int64
	Uint64       // uint64
	Float32      // float32
	Float64      // float64
	String       // string
	BCD16        // uint16 holding 0..9999
	BCD32        // uint32 holding 0..99999999
)

var typeNames = [...]string{
	Invalid: "invalid", Bool: "bool", Int16: "int16", Uint16: "uint16", Int32: "int32",
	Uint32: "uint32", Int64: "int64", Uint64: "uint64", Float32: "float32", Float64: "float64",
	String: "string", BCD16: "bcd16", BCD32: "bcd32",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ParseType parses a type name as written in the config (case-insensitive).
func ParseType(s string) (Type, error) {
	ls := strings.ToLower(strings.TrimSpace(s))
	for i, n := range typeNames {
		if i != int(Invalid) && n == ls {
			return Type(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown type %q (want one of bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bcd16, bcd32)", s)
}

// Registers is the number of 16-bit registers a value of type t occupies;
// length is the string length in bytes. Bool is 1 (a bit or a register bit).
func (t Type) Registers(length int) int {
	switch t {
	case Bool, Int16, Uint16, BCD16:
		return 1
	case Int32, Uint32, Float32, BCD32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	case String:
		return (length + 1) / 2
	}
	return 0
}

// Numeric reports whether t is a number type.
func (t Type) Numeric() bool { return t != Invalid && t != Bool && t != String }

// Zero returns the zero value of t in its Go type.
func (t Type) Zero() any {
	switch t {
	case Bool:
		return false
	case Int16:
		return int16(0)
	case Uint16, BCD16:
		return uint16(0)
	case Int32:
		return int32(0)
	case Uint32, BCD32:
		return uint32(0)
	case Int64:
		return int64(0)
	case Uint64:
		return uint64(0)
	case Float32:
		return float32(0)
	case Float64:
		return float64(0)
	case String:
		return ""
	}
	return nil
}

// Holds reports whether v has exactly the Go type of t (see Zero): the
// contract for Sample.Value and for values passed to Writer.Write.
func (t Type) Holds(v any) bool {
	switch v.(type) {
	case bool:
		return t == Bool
	case int16:
		return t == Int16
	case uint16:
		return t == Uint16 || t == BCD16
	case int32:
		return t == Int32
	case uint32:
		return t == Uint32 || t == BCD32
	case int64:
		return t == Int64
	case uint64:
		return t == Uint64
	case float32:
		return t == Float32
	case float64:
		return t == Float64
	case string:
		return t == String
	}
	return false
}
