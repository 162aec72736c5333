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

// tooLargeValue stands in for a value that alone exceeds the client's
// message limit, so the rest of the queue still reaches the client.
func tooLargeValue() *ua.DataValue {
	return &ua.DataValue{
		EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp,
		Status:       ua.StatusBadEncodingLimitsExceeded, ServerTimestamp: time.Now(),
	}
}

// encodedDataChange is the encoded body of a DataChangeNotification
// (monitored items and the empty diagnostics), built by messageLocked
// straight from the items without gopcua's reflection, which was most of
// the cost of a Publish response with many items. It is an
// ExtensionObject's Value: gopcua writes it as is.
type encodedDataChange []byte

func (e encodedDataChange) Encode() ([]byte, error) { return e, nil }

// dataChangeObject wraps an encoded body for a NotificationMessage.
func dataChangeObject(body []byte) *ua.ExtensionObject {
	eo := ua.NewExtensionObject(&ua.DataChangeNotification{})
	eo.Value = encodedDataChange(body)
	return eo
}
