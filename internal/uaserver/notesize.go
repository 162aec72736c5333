package uaserver

import (
	"time"

	"github.com/gopcua/opcua/ua"
)

// defaultPublishBytes bounds a Publish response when the client sets no
// message size limit: gopcua's default limit, and small enough that one
// message never holds the channel for long.
const defaultPublishBytes = 2 << 20

// publishFixedBytes is an upper bound of a PublishResponse without its
// notifications and without the 4-byte entries of its acknowledgement
// results and available sequence numbers: type id, response header,
// subscription id, MoreNotifications, the NotificationMessage header, the
// ExtensionObject around the DataChangeNotification and the empty
// diagnostics arrays (about 80 bytes; the rest is margin).
const publishFixedBytes = 128

// publishBudget is how many bytes of notifications one Publish response to
// channel c may carry: the client's limit (Hello MaxMessageSize, chunks x
// buffer, CreateSession MaxResponseMessageSize) less the fixed part and the
// same margin tooLarge keeps.
func publishBudget(c *channel, acks, avail int) int {
	limit := int64(defaultPublishBytes)
	if c != nil {
		if l := c.respLimit.Load(); l != 0 && int64(l) < limit {
			limit = int64(l)
		}
	}
	return int(limit - chunkOverhead - publishFixedBytes - 4*int64(acks+avail))
}

// notificationSize is the encoded size of one MonitoredItemNotification
// (client handle + DataValue), computed without encoding for the scalar
// values tags carry; anything else is measured by encoding it.
func notificationSize(dv *ua.DataValue) int {
	if dv == nil {
		return 4 + 1
	}
	n := 4 + 1 // client handle, encoding mask
	if dv.Has(ua.DataValueValue) {
		vs, ok := variantSize(dv.Value)
		if !ok {
			b, err := ua.Encode(dv)
			if err != nil {
				return 1 << 30 // cannot be sent: the caller replaces it
			}
			return 4 + len(b)
		}
		n += vs
	}
	if dv.Has(ua.DataValueStatusCode) {
		n += 4
	}
	if dv.Has(ua.DataValueSourceTimestamp) {
		n += 8
	}
	if dv.Has(ua.DataValueSourcePicoseconds) {
		n += 2
	}
	if dv.Has(ua.DataValueServerTimestamp) {
		n += 8
	}
	if dv.Has(ua.DataValueServerPicoseconds) {
		n += 2
	}
	return n
}

// variantSize is the encoded size of a scalar Variant of a built-in type;
// ok is false for arrays, structures and nil.
func variantSize(v *ua.Variant) (int, bool) {
	if v == nil || v.Has(ua.VariantArrayValues) || v.Has(ua.VariantArrayDimensions) {
		return 0, false
	}
	if v.Type() == ua.TypeIDNull {
		return 1, true
	}
	switch x := v.Value().(type) {
	case bool, int8, uint8:
		return 1 + 1, true
	case int16, uint16:
		return 1 + 2, true
	case int32, uint32, float32, ua.StatusCode:
		return 1 + 4, true
	case int64, uint64, float64, time.Time:
		return 1 + 8, true
	case string:
		return 1 + 4 + len(x), true
	case []byte:
		return 1 + 4 + len(x), true
	}
	return 0, false
}

// tooLargeValue stands in for a value that alone exceeds the client's
// message limit, so the rest of the queue still reaches the client.
func tooLargeValue() *ua.DataValue {
	return &ua.DataValue{
		EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp,
		Status:       ua.StatusBadEncodingLimitsExceeded, ServerTimestamp: time.Now(),
	}
}

// dataChangeEncoder encodes a DataChangeNotification without gopcua's
// reflection, which is most of the cost of a Publish response with many
// items. The bytes are the same as ua.Encode's (tested); values other
// than built-in scalars go through gopcua's encoder.
type dataChangeEncoder struct{ *ua.DataChangeNotification }

// newDataChange wraps notes for a NotificationMessage.
func newDataChange(notes []*ua.MonitoredItemNotification) *ua.ExtensionObject {
	dc := &ua.DataChangeNotification{MonitoredItems: notes}
	eo := ua.NewExtensionObject(dc)
	eo.Value = dataChangeEncoder{dc}
	return eo
}

func (d dataChangeEncoder) Encode() ([]byte, error) {
	if d.DataChangeNotification == nil || d.DiagnosticInfos != nil {
		return ua.Encode(d.DataChangeNotification)
	}
	buf := ua.NewBuffer(make([]byte, 0, 8+32*len(d.MonitoredItems)))
	if d.MonitoredItems == nil {
		buf.WriteUint32(0xffffffff)
	} else {
		buf.WriteUint32(uint32(len(d.MonitoredItems)))
	}
	for _, mi := range d.MonitoredItems {
		if mi == nil || mi.Value == nil {
			buf.WriteStruct(mi)
			continue
		}
		buf.WriteUint32(mi.ClientHandle)
		writeDataValue(buf, mi.Value)
	}
	buf.WriteUint32(0xffffffff) // no DiagnosticInfos
	return buf.Bytes(), buf.Error()
}

func writeDataValue(buf *ua.Buffer, dv *ua.DataValue) {
	buf.WriteByte(dv.EncodingMask)
	if dv.Has(ua.DataValueValue) {
		if !writeScalar(buf, dv.Value) {
			buf.WriteStruct(dv.Value)
		}
	}
	if dv.Has(ua.DataValueStatusCode) {
		buf.WriteUint32(uint32(dv.Status))
	}
	if dv.Has(ua.DataValueSourceTimestamp) {
		buf.WriteTime(dv.SourceTimestamp)
	}
	if dv.Has(ua.DataValueSourcePicoseconds) {
		buf.WriteUint16(dv.SourcePicoseconds)
	}
	if dv.Has(ua.DataValueServerTimestamp) {
		buf.WriteTime(dv.ServerTimestamp)
	}
	if dv.Has(ua.DataValueServerPicoseconds) {
		buf.WriteUint16(dv.ServerPicoseconds)
	}
}

// writeScalar writes a scalar Variant of a built-in type and reports
// whether it did; it writes nothing otherwise.
func writeScalar(buf *ua.Buffer, v *ua.Variant) bool {
	if v == nil || v.Has(ua.VariantArrayValues) || v.Has(ua.VariantArrayDimensions) {
		return false
	}
	if v.Type() == ua.TypeIDNull {
		buf.WriteByte(v.EncodingMask())
		return true
	}
	switch x := v.Value().(type) {
	case bool:
		buf.WriteByte(v.EncodingMask())
		buf.WriteBool(x)
	case int8:
		buf.WriteByte(v.EncodingMask())
		buf.WriteInt8(x)
	case uint8:
		buf.WriteByte(v.EncodingMask())
		buf.WriteUint8(x)
	case int16:
		buf.WriteByte(v.EncodingMask())
		buf.WriteInt16(x)
	case uint16:
		buf.WriteByte(v.EncodingMask())
		buf.WriteUint16(x)
	case int32:
		buf.WriteByte(v.EncodingMask())
		buf.WriteInt32(x)
	case uint32:
		buf.WriteByte(v.EncodingMask())
		buf.WriteUint32(x)
	case int64:
		buf.WriteByte(v.EncodingMask())
		buf.WriteInt64(x)
	case uint64:
		buf.WriteByte(v.EncodingMask())
		buf.WriteUint64(x)
	case float32:
		buf.WriteByte(v.EncodingMask())
		buf.WriteFloat32(x)
	case float64:
		buf.WriteByte(v.EncodingMask())
		buf.WriteFloat64(x)
	case string:
		buf.WriteByte(v.EncodingMask())
		buf.WriteString(x)
	case time.Time:
		buf.WriteByte(v.EncodingMask())
		buf.WriteTime(x)
	case ua.StatusCode:
		buf.WriteByte(v.EncodingMask())
		buf.WriteUint32(uint32(x))
	default:
		return false
	}
	return true
}
