package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
)

// discoverTimeout bounds one discovery attempt at start, so an unreachable
// agent never delays the rest of the gateway; later attempts run in the
// background.
const discoverTimeout = 5 * time.Second

// autoDevice reports whether a device asks for its points to be discovered
// (`options: { auto: true }`, MTConnect).
func autoDevice(d config.Device) bool {
	switch v := d.Options["auto"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// discover opens a device, asks it for its points and closes it.
func discover(ctx context.Context, d config.Device) ([]config.Tag, error) {
	drv, err := drivers.Lookup(d.Driver)
	if err != nil {
		return nil, err
	}
	dev, err := drv.Open(ctx, d.Name, d.Options)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	disc, ok := dev.(drivers.Discoverer)
	if !ok {
		return nil, fmt.Errorf("device %s: driver %s cannot discover points (auto: true)", d.Name, d.Driver)
	}
	ctx, cancel := context.WithTimeout(ctx, discoverTimeout)
	defer cancel()
	pts, err := disc.Discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("device %s: discover: %w", d.Name, err)
	}
	have := map[string]bool{}
	for _, t := range d.Tags {
		have[t.Name] = true
	}
	tags := make([]config.Tag, 0, len(pts))
	for _, p := range pts {
		if have[p.Name] { // a configured tag of that name wins
			continue
		}
		have[p.Name] = true
		access := "read"
		if p.Writable {
			access = "readwrite"
		}
		tags = append(tags, config.Tag{
			Name: p.Name, Address: p.Addr, Type: p.Type.String(), Unit: p.Unit,
			Description: p.Description, Access: access,
		})
	}
	return tags, nil
}

// effective is cfg with the discovered tags of auto devices appended.
func (g *Gateway) effective(cfg *config.Config) *config.Config {
	if len(g.discovered) == 0 {
		return cfg
	}
	c := *cfg
	c.Devices = make([]config.Device, len(cfg.Devices))
	copy(c.Devices, cfg.Devices)
	for i, d := range c.Devices {
		if extra, ok := g.discovered[d.Name]; ok && autoDevice(d) {
			d.Tags = append(append([]config.Tag(nil), d.Tags...), extra...)
			c.Devices[i] = d
		}
	}
	return &c
}

// wantsDiscovery reports whether d is an enabled auto device.
func wantsDiscovery(d config.Device) bool {
	return autoDevice(d) && (d.Enabled == nil || *d.Enabled)
}

// undiscovered lists the enabled auto devices of cfg without discovered
// points. g.mu is held.
func (g *Gateway) undiscovered(cfg *config.Config) []config.Device {
	var out []config.Device
	for _, d := range cfg.Devices {
		if _, done := g.discovered[d.Name]; wantsDiscovery(d) && !done {
			out = append(out, d)
		}
	}
	return out
}

// discoverAll tries each device once (bounded by discoverTimeout each) and
// returns the points of those that answered. It touches no Gateway state,
// so callers run it without holding g.mu.
func (g *Gateway) discoverAll(ctx context.Context, devs []config.Device) map[string][]config.Tag {
	found := map[string][]config.Tag{}
	for _, d := range devs {
		tags, err := discover(ctx, d)
		if err != nil {
			g.log.Warn("device discovery failed; retrying in the background", "device", d.Name, "err", err)
			continue
		}
		found[d.Name] = tags
		g.log.Info("device points discovered", "device", d.Name, "tags", len(tags))
	}
	return found
}

// rediscover retries discovery of pending auto devices with backoff and
// applies the new tags as a reload when it succeeds. The network calls run
// without g.mu, so a reload never waits for an agent.
func (g *Gateway) rediscover(ctx context.Context) {
	wait := time.Second
	for {
		g.mu.Lock()
		pending := g.undiscovered(g.base)
		g.mu.Unlock()
		if len(pending) == 0 {
			return
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, 30*time.Second)
		found := g.discoverAll(ctx, pending)
		if len(found) == 0 {
			continue
		}
		g.mu.Lock()
		added := false
		for _, d := range g.undiscovered(g.base) { // the config may have changed meanwhile
			if tags, ok := found[d.Name]; ok {
				g.discovered[d.Name] = tags
				added = true
			}
		}
		if added {
			if err := g.applyLocked(ctx, g.base); err != nil {
				g.log.Error("applying discovered points failed", "err", err)
			}
		}
		g.mu.Unlock()
	}
}
