package mtconnect

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

func init() { drivers.Register("mtconnect", Driver{}) }

// Driver opens MTConnect agent devices. It is registered as "mtconnect".
type Driver struct{}

var _ drivers.Driver = Driver{}

// Open decodes the options strictly and returns the device. It does no I/O:
// the agent is first contacted by the first Read (or Discover).
func (Driver) Open(_ context.Context, name string, opts map[string]any) (drivers.Device, error) {
	o, err := decodeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("mtconnect %s: %w", name, err)
	}
	// One transport per device: Close can then drop its idle connections and
	// leave no goroutine behind. ResponseHeaderTimeout bounds the stream
	// request too, whose body is open-ended.
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		ResponseHeaderTimeout: o.Timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
	return &device{
		name:   name,
		opt:    o,
		tr:     tr,
		client: &http.Client{Transport: tr},
		synced: make(chan struct{}),
		stats:  Stats{Mode: o.Mode},
	}, nil
}

// Stats are the diagnostics of one device, from (*device).Stats. Callers
// reach it through an interface: `dev.(interface{ Stats() mtconnect.Stats })`.
type Stats struct {
	Mode          string // effective mode: "stream", or "poll" (configured, or after a fallback)
	Connected     bool   // the last exchange with the agent succeeded
	InstanceID    string // the agent's instanceId (changes when the agent restarts)
	Version       string // the agent's MTConnect version (probe Header)
	BufferSize    uint64
	Device        string // the device name from the probe
	NextSequence  uint64 // the next sequence number to read
	Documents     uint64 // streams documents applied (current, samples, stream parts incl. heartbeats)
	Observations  uint64 // observations applied
	Gaps          uint64 // buffer overruns: sequences lost (OUT_OF_RANGE, or firstSequence past next)
	Reprobes      uint64 // re-reads of /probe after an instanceId change
	Reconnects    uint64 // reconnections after a failure (connection, heartbeat loss, agent error)
	Heartbeats    uint64 // heartbeat losses in stream mode
	Fallbacks     uint64 // stream -> poll fallbacks (the agent did not stream multipart)
	AgentErrors   uint64 // MTConnectError documents received (OUT_OF_RANGE included)
	Malformed     uint64 // documents that did not parse
	LastErrorCode string // errorCode of the last agent error, "" when none
	LastError     string // the current error, "" when following
}
