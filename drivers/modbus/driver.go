package modbus

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/tagbridge/tagbridge/drivers"
)

func init() { drivers.Register("modbus", NewDriver()) }

var _ drivers.Driver = (*Driver)(nil)

// Driver opens Modbus devices. It keeps the pool of physical links: every
// device opened through the same Driver value with the same link key (the
// transport and address, or the serial port) shares one link and one
// arbiter goroutine. The last device to close a link closes it.
//
// The registered Driver (drivers.Lookup("modbus")) is the one the gateway
// uses; NewDriver gives an independent pool (tests, tools).
type Driver struct {
	mu    sync.Mutex
	links map[string]*arbiter
	dial  func(linkConfig) link // newLink; tests may substitute
}

// NewDriver returns a Driver with an empty link pool.
func NewDriver() *Driver {
	return &Driver{links: map[string]*arbiter{}, dial: newLink}
}

// Open decodes opts strictly (see docs/modbus.md, Transports) and returns
// a *Device. It does no network or serial I/O: the link opens on the first
// Read or Write. Two devices on one serial port with different serial
// settings are an error.
func (drv *Driver) Open(ctx context.Context, name string, opts map[string]any) (drivers.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := parseOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("modbus %s: %w", name, err)
	}
	d := &Device{drv: drv, name: name, opt: o}
	if err := drv.acquire(d); err != nil {
		return nil, err
	}
	return d, nil
}

func (o options) link() linkConfig {
	return linkConfig{
		transport: o.transport, address: o.address, serial: o.serial, timeout: o.timeout,
		tlsCert: o.tlsCert, tlsCAs: o.tlsCAs,
	}
}

// acquire attaches d to the link for its key, creating the link if needed.
func (drv *Driver) acquire(d *Device) error {
	drv.mu.Lock()
	defer drv.mu.Unlock()
	key := d.opt.linkKey()
	a := drv.links[key]
	if a == nil {
		a = newArbiter(key, d.opt.link(), d.opt, drv.dial)
		drv.links[key] = a
		a.attach(d)
		d.arb = a
		return nil
	}
	if err := compatible(a.cfg, a.tls, d.opt); err != nil {
		return fmt.Errorf("modbus %s: %s is already used by device %q: %w", d.name, key, a.owner(), err)
	}
	a.attach(d)
	d.arb = a
	return nil
}

// release detaches d; the last device out closes the link.
func (drv *Driver) release(d *Device) {
	drv.mu.Lock()
	a := d.arb
	last := a.detach(d) == 0
	if last && drv.links[a.key] == a {
		delete(drv.links, a.key)
	}
	drv.mu.Unlock()
	if last {
		a.shutdown()
	}
}

// compatible checks that a device can share an existing link: one serial
// port carries one framing at one speed; one TLS connection has one client
// certificate.
func compatible(c linkConfig, files tlsFiles, o options) error {
	if c.transport != o.transport {
		return fmt.Errorf("transport %s there, %s here: one link speaks one framing", c.transport, o.transport)
	}
	if o.isSerial() && c.serial != o.serial {
		return fmt.Errorf("serial settings %s there, %s here: devices on one port must agree", c.serial, o.serial)
	}
	if o.transport == TransportTLS && files != o.tlsFiles {
		return fmt.Errorf("TLS files differ (cert, key, ca): one connection has one client certificate")
	}
	return nil
}

func (s serialSettings) String() string {
	return fmt.Sprintf("%d %d%s%d", s.baud, s.dataBits, s.parity, s.stopBits)
}

// LinkStats returns a snapshot of every open link, sorted by link name, for
// metrics (queue depth, requests, errors by class, reconnects).
func (drv *Driver) LinkStats() []LinkStat {
	drv.mu.Lock()
	links := slices.Collect(maps.Values(drv.links))
	drv.mu.Unlock()
	out := make([]LinkStat, 0, len(links))
	for _, a := range links {
		out = append(out, a.snapshot())
	}
	slices.SortFunc(out, func(x, y LinkStat) int {
		switch {
		case x.Link < y.Link:
			return -1
		case x.Link > y.Link:
			return 1
		}
		return 0
	})
	return out
}
