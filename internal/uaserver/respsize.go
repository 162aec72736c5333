package uaserver

import (
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
)

// chunkOverhead is an upper bound of the headers, security footer and
// padding of one chunk (asymmetric headers only appear in OPN).
const chunkOverhead = 512

// setRespLimit records the largest response the client accepts from its
// Hello: MaxMessageSize, and MaxChunkCount chunks of its receive buffer
// (0 means no limit for either).
func (c *channel) setRespLimit(hel *uacp.Hello) {
	limit := uint64(hel.MaxMessageSize)
	if hel.MaxChunkCount > 0 && hel.ReceiveBufSize > chunkOverhead {
		byChunks := uint64(hel.MaxChunkCount) * uint64(min(hel.ReceiveBufSize, ourBufSize)-chunkOverhead)
		if limit == 0 || byChunks < limit {
			limit = byChunks
		}
	}
	c.lowerRespLimit(uint32(min(limit, 1<<32-1)))
}

// lowerRespLimit lowers the response limit (CreateSession's
// MaxResponseMessageSize); 0 leaves it.
func (c *channel) lowerRespLimit(n uint32) {
	for {
		cur := c.respLimit.Load()
		if n == 0 || (cur != 0 && cur <= n) || c.respLimit.CompareAndSwap(cur, n) {
			return
		}
	}
}

// tooLarge reports whether resp would exceed the client's limit. Only
// responses whose size the client drives (many results) are measured: the
// measurement encodes the message once more. Publish responses are built
// to fit instead (messageLocked, publishBudget): dropping one would lose data.
func (c *channel) tooLarge(resp ua.Response) bool {
	limit := c.respLimit.Load()
	if limit == 0 {
		return false
	}
	var n int
	switch r := resp.(type) {
	case *ua.ReadResponse:
		n = len(r.Results)
	case *ua.BrowseResponse:
		n = len(r.Results) * 8
	case *ua.BrowseNextResponse:
		n = len(r.Results) * 8
	case *ua.TranslateBrowsePathsToNodeIDsResponse:
		n = len(r.Results)
	case *ua.CreateMonitoredItemsResponse:
		n = len(r.Results)
	default:
		return false
	}
	if uint64(n)*8 < uint64(limit)/64 { // surely small: skip the measurement
		return false
	}
	b, err := ua.Encode(resp)
	return err == nil && uint64(len(b))+chunkOverhead > uint64(limit)
}
