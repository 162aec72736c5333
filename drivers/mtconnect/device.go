package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/tagbridge/tagbridge/drivers"
)

var (
	_ drivers.Device     = (*device)(nil)
	_ drivers.Checker    = (*device)(nil)
	_ drivers.Discoverer = (*device)(nil)
)

// device is one MTConnect agent device. Read, Check, Discover and Close are
// called from the scheduler's goroutine; the follower goroutine (started by
// the first Read) writes the cache, the probe and the stats under mu.
type device struct {
	name   string
	opt    options
	tr     *http.Transport
	client *http.Client

	// Owned by the scheduler's goroutine.
	cancel context.CancelFunc // stops the follower
	done   chan struct{}      // closed when the follower returned
	closed bool

	synced chan struct{} // closed once the first sync attempt ended (ok or failed)

	mu       sync.Mutex
	syncDone bool
	pr       *probe
	cache    cache
	err      error // the follower's current error; nil while following
	stats    Stats
}

// Read fills out from the cache the follower keeps. The first Read starts the
// follower and waits (bounded by ctx) for the first /probe and /current.
// While the agent is unreachable Read returns an error wrapping
// drivers.ErrBadConn; while the agent answers with an MTConnectError it fills
// every sample with the error's quality and returns a *drivers.QualityError.
func (d *device) Read(ctx context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	if len(out) != len(addrs) {
		return fmt.Errorf("mtconnect %s: read: %d addresses, %d samples", d.name, len(addrs), len(out))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mtconnect %s: read: %w", d.name, err)
	}
	if d.closed {
		return fmt.Errorf("mtconnect %s: read after Close: %w", d.name, drivers.ErrBadConn)
	}
	d.start()
	select {
	case <-d.synced:
	case <-ctx.Done():
		return fmt.Errorf("mtconnect %s: waiting for the first probe: %w", d.name, ctx.Err())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		var ae *AgentError
		if !errors.As(d.err, &ae) {
			return fmt.Errorf("%w: %w", drivers.ErrBadConn, d.err)
		}
		q := agentQuality(ae.Code)
		for i := range out {
			out[i] = drivers.Sample{Quality: q, Err: d.err}
		}
		return &drivers.QualityError{Quality: q, Err: d.err}
	}
	for i, a := range addrs {
		out[i] = d.sampleLocked(a)
	}
	return nil
}

func (d *device) sampleLocked(a drivers.Address) drivers.Sample {
	pa, err := parseAddr(a.Addr)
	if err != nil {
		return drivers.Sample{Quality: drivers.BadConfigurationError, Err: fmt.Errorf("mtconnect %s: %w", d.name, err)}
	}
	if d.pr == nil {
		return drivers.Sample{Quality: drivers.BadWaitingForInitialData, Err: fmt.Errorf("mtconnect %s: no probe yet", d.name)}
	}
	it, ok := d.pr.item(pa)
	if !ok {
		return drivers.Sample{Quality: drivers.BadConfigurationError,
			Err: fmt.Errorf("mtconnect %s: %s: no such DataItem in device %q", d.name, pa, d.pr.Device)}
	}
	l := d.cache[it.ID]
	if l == nil {
		return drivers.Sample{Quality: drivers.BadWaitingForInitialData,
			Err: fmt.Errorf("mtconnect %s: %s: no observation yet", d.name, pa)}
	}
	return l.sample(it, a.Type)
}

// agentQuality is the quality of every point while the agent answers with code.
func agentQuality(code string) drivers.Quality {
	switch code {
	case CodeNoDevice, CodeInvalidXPath, CodeQueryError, CodeInvalidRequest, CodeUnsupported, CodeTooMany:
		return drivers.BadConfigurationError
	case CodeInternalError:
		return drivers.BadDeviceFailure
	}
	return drivers.BadCommunicationError
}

// start starts the follower once.
func (d *device) start() {
	if d.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go d.follow(ctx)
}

// Close stops the follower, waits for it and drops idle connections. It is idempotent.
func (d *device) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
	d.tr.CloseIdleConnections()
	return nil
}

// Check validates an address: its syntax always, and that the DataItem exists
// and suits the tag's type once the probe is known.
func (d *device) Check(a drivers.Address) error {
	pa, err := parseAddr(a.Addr)
	if err != nil {
		return err
	}
	switch a.Type {
	case drivers.BCD16, drivers.BCD32:
		return fmt.Errorf("address %q: type %s is not supported by mtconnect", a.Addr, a.Type)
	}
	d.mu.Lock()
	p := d.pr
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	it, ok := p.item(pa)
	if !ok {
		return fmt.Errorf("address %q: no such DataItem in device %q", a.Addr, p.Device)
	}
	if it.Category == "CONDITION" && a.Type != drivers.String && a.Type != drivers.Invalid {
		return fmt.Errorf("address %q: a CONDITION is a string, not %s", a.Addr, a.Type)
	}
	return nil
}

// Stats returns a snapshot of the device's diagnostics.
func (d *device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}
