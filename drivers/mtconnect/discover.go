package mtconnect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tagbridge/tagbridge/drivers"
)

// Discover lists one point per DataItem of the device, for `auto: true`.
// It uses the probe the follower read, or reads /probe itself when no Read
// happened yet. Names follow the component tree (see points).
func (d *device) Discover(ctx context.Context) ([]drivers.PointInfo, error) {
	d.mu.Lock()
	p := d.pr
	d.mu.Unlock()
	if p == nil {
		var err error
		if p, err = d.fetchProbe(ctx); err != nil {
			return nil, fmt.Errorf("mtconnect %s: discover: %w", d.name, err)
		}
		d.mu.Lock()
		if d.pr == nil {
			d.pr = p
			d.stats.Version, d.stats.BufferSize, d.stats.Device = p.Header.Version, p.Header.BufferSize, p.Device
		} else {
			p = d.pr
		}
		d.mu.Unlock()
	}
	return points(p), nil
}

// points names every DataItem: the component path (Axes/Linear[X]) and a
// leaf, the DataItem's name, or else its type (and subType) in CamelCase
// (Position[Actual]). Leaves that collide in one folder get their id:
// Position[Actual]#xpos.
func points(p *probe) []drivers.PointInfo {
	names := make([]string, len(p.Items))
	seen := map[string]int{}
	for i, it := range p.Items {
		leaf := it.Name
		if leaf == "" {
			leaf = camel(it.Type)
			if it.SubType != "" {
				leaf += "[" + camel(it.SubType) + "]"
			}
		}
		names[i] = strings.Join(append(append([]string(nil), it.Path...), clean(leaf)), "/")
		seen[names[i]]++
	}
	out := make([]drivers.PointInfo, 0, len(p.Items))
	for i, it := range p.Items {
		name := names[i]
		if seen[name] > 1 {
			name += "#" + clean(it.ID)
		}
		desc := strings.TrimSpace(strings.Join([]string{it.Category, it.Type, it.SubType}, " "))
		if it.Units != "" {
			desc += " (" + it.Units + ")"
		}
		desc += " id=" + it.ID
		out = append(out, drivers.PointInfo{
			Name:        name,
			Addr:        "id:" + it.ID,
			Type:        defaultType(it),
			Unit:        unitName(it.Units),
			Description: desc,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// camel turns SPINDLE_SPEED into SpindleSpeed.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == ' ' || r == '-' }) {
		w = strings.ToLower(w)
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
