package uaserver

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
)

// The appenders below write OPC UA binary encodings of the values the hot
// paths send (Publish notifications, Read results) without gopcua's
// reflection encoder or a DataValue per value. They produce exactly the
// bytes of ua.Encode (tested in encode_test.go); anything else falls back
// to ua.Encode.

var le = binary.LittleEndian

const (
	f32qnan = 0xffc00000 // gopcua's NaN encodings
	f64qnan = 0xfff8000000000000
	// uaEpochTicks is 1970-01-01 in 100 ns ticks since 1601-01-01.
	uaEpochTicks = 116444736000000000
)

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return le.AppendUint64(b, 0)
	}
	return appendNanos(b, t.UnixNano())
}

// appendNanos writes a DateTime from Unix nanoseconds, as ua.Buffer does.
func appendNanos(b []byte, ns int64) []byte {
	return le.AppendUint64(b, uint64(ns/100+uaEpochTicks))
}

func appendString(b []byte, s string) []byte {
	if s == "" {
		return le.AppendUint32(b, 0xffffffff)
	}
	b = le.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendFloat32(b []byte, f float32) []byte {
	if math.IsNaN(float64(f)) {
		return le.AppendUint32(b, f32qnan)
	}
	return le.AppendUint32(b, math.Float32bits(f))
}

func appendFloat64(b []byte, f float64) []byte {
	if math.IsNaN(f) {
		return le.AppendUint64(b, f64qnan)
	}
	return le.AppendUint64(b, math.Float64bits(f))
}

// appendDataValue writes dv as ua.Encode does.
func appendDataValue(b []byte, dv *ua.DataValue) []byte {
	b = append(b, dv.EncodingMask)
	if dv.Has(ua.DataValueValue) {
		if nb, ok := appendScalar(b, dv.Value); ok {
			b = nb
		} else {
			vb, _ := ua.Encode(dv.Value) // what gopcua's DataValue.Encode does with an error too
			b = append(b, vb...)
		}
	}
	if dv.Has(ua.DataValueStatusCode) {
		b = le.AppendUint32(b, uint32(dv.Status))
	}
	if dv.Has(ua.DataValueSourceTimestamp) {
		b = appendTime(b, dv.SourceTimestamp)
	}
	if dv.Has(ua.DataValueSourcePicoseconds) {
		b = le.AppendUint16(b, dv.SourcePicoseconds)
	}
	if dv.Has(ua.DataValueServerTimestamp) {
		b = appendTime(b, dv.ServerTimestamp)
	}
	if dv.Has(ua.DataValueServerPicoseconds) {
		b = le.AppendUint16(b, dv.ServerPicoseconds)
	}
	return b
}

// appendScalar writes a scalar Variant of a built-in type; ok is false
// (and b unchanged) for anything else.
func appendScalar(b []byte, v *ua.Variant) ([]byte, bool) {
	if v == nil || v.Has(ua.VariantArrayValues) || v.Has(ua.VariantArrayDimensions) {
		return b, false
	}
	if v.Type() == ua.TypeIDNull {
		return append(b, v.EncodingMask()), true
	}
	m := v.EncodingMask()
	switch x := v.Value().(type) {
	case bool:
		return appendBool(append(b, m), x), true
	case int8:
		return append(b, m, byte(x)), true
	case uint8:
		return append(b, m, x), true
	case int16:
		return le.AppendUint16(append(b, m), uint16(x)), true
	case uint16:
		return le.AppendUint16(append(b, m), x), true
	case int32:
		return le.AppendUint32(append(b, m), uint32(x)), true
	case uint32:
		return le.AppendUint32(append(b, m), x), true
	case int64:
		return le.AppendUint64(append(b, m), uint64(x)), true
	case uint64:
		return le.AppendUint64(append(b, m), x), true
	case float32:
		return appendFloat32(append(b, m), x), true
	case float64:
		return appendFloat64(append(b, m), x), true
	case string:
		return appendString(append(b, m), x), true
	case time.Time:
		return appendTime(append(b, m), x), true
	case ua.StatusCode:
		return le.AppendUint32(append(b, m), uint32(x)), true
	}
	return b, false
}

func appendBool(b []byte, x bool) []byte {
	if x {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendTagValue writes the DataValue that dataValue(t, s.value(), ts)
// encodes to, without building it. now is the server timestamp of a value
// that has none (Unix ns).
func appendTagValue(b []byte, t drivers.Type, s sampled, ts ua.TimestampsToReturn, now int64) []byte {
	mask := byte(ua.DataValueValue)
	bad := s.q != drivers.Good
	src := (ts == ua.TimestampsToReturnSource || ts == ua.TimestampsToReturnBoth) && s.has&hasSource != 0
	srv := ts == ua.TimestampsToReturnServer || ts == ua.TimestampsToReturnBoth
	if bad {
		mask |= ua.DataValueStatusCode
	}
	if src {
		mask |= ua.DataValueSourceTimestamp
	}
	if srv {
		mask |= ua.DataValueServerTimestamp
	}
	b = appendTagVariant(append(b, mask), t, s.v)
	if bad {
		b = le.AppendUint32(b, uint32(s.q))
	}
	if src {
		b = appendNanos(b, s.src)
	}
	if srv {
		if s.has&hasServer != 0 {
			b = appendNanos(b, s.srv)
		} else {
			b = appendNanos(b, now)
		}
	}
	return b
}

// appendTagVariant writes variantOf(t, v) without allocating it.
func appendTagVariant(b []byte, t drivers.Type, v any) []byte {
	null := append(b, 0)
	if v == nil {
		return null
	}
	switch t {
	case drivers.Bool:
		if x, ok := v.(bool); ok {
			return appendBool(append(b, byte(ua.TypeIDBoolean)), x)
		}
		return null
	case drivers.String:
		if x, ok := v.(string); ok {
			return appendString(append(b, byte(ua.TypeIDString)), x)
		}
		return null
	}
	f, ok := asFloat(v)
	if !ok {
		return null
	}
	switch t {
	case drivers.Int16:
		return le.AppendUint16(append(b, byte(ua.TypeIDInt16)), uint16(int16(f)))
	case drivers.Uint16, drivers.BCD16:
		return le.AppendUint16(append(b, byte(ua.TypeIDUint16)), uint16(f))
	case drivers.Int32:
		return le.AppendUint32(append(b, byte(ua.TypeIDInt32)), uint32(int32(f)))
	case drivers.Uint32, drivers.BCD32:
		return le.AppendUint32(append(b, byte(ua.TypeIDUint32)), uint32(f))
	case drivers.Int64:
		x, ok := v.(int64)
		if !ok {
			x = int64(f)
		}
		return le.AppendUint64(append(b, byte(ua.TypeIDInt64)), uint64(x))
	case drivers.Uint64:
		x, ok := v.(uint64)
		if !ok {
			x = uint64(f)
		}
		return le.AppendUint64(append(b, byte(ua.TypeIDUint64)), x)
	case drivers.Float32:
		return appendFloat32(append(b, byte(ua.TypeIDFloat)), float32(f))
	case drivers.Float64:
		return appendFloat64(append(b, byte(ua.TypeIDDouble)), f)
	}
	return null
}
