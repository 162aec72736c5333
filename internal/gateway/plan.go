package gateway

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// ScanPlan is what one device sends per scan of one scan class.
type ScanPlan struct {
	Scan     time.Duration
	Tags     int
	Requests []drivers.Request // nil when the driver does not describe its batches
}

// DevicePlan is the plan of one device.
type DevicePlan struct {
	Device  string
	Driver  string
	Classes []ScanPlan
	Err     error // the driver could not plan (open or prepare failed)
}

// Plan prepares every device's scan classes exactly as the scheduler does and
// returns the wire requests, without touching the network.
func Plan(ctx context.Context, cfg *config.Config) ([]DevicePlan, error) {
	tbl, err := mapping.Compile(cfg, mapping.NewStore())
	if err != nil {
		return nil, err
	}
	var out []DevicePlan
	for _, dev := range tbl.Devices {
		out = append(out, planDevice(ctx, dev))
	}
	return out, nil
}

func planDevice(ctx context.Context, dev *mapping.Device) DevicePlan {
	dp := DevicePlan{Device: dev.Name, Driver: dev.Driver}
	drv, err := drivers.Lookup(dev.Driver)
	if err != nil {
		dp.Err = err
		return dp
	}
	d, err := drv.Open(ctx, dev.Name, dev.Options)
	if err != nil {
		dp.Err = err
		return dp
	}
	defer d.Close()
	classes := map[time.Duration][]drivers.Address{}
	for _, t := range dev.Tags {
		classes[t.Scan] = append(classes[t.Scan], t.Addr)
	}
	scans := make([]time.Duration, 0, len(classes))
	for s := range classes {
		scans = append(scans, s)
	}
	sort.Slice(scans, func(i, j int) bool { return scans[i] < scans[j] })
	for _, s := range scans {
		sp := ScanPlan{Scan: s, Tags: len(classes[s])}
		if p, ok := d.(drivers.Preparer); ok {
			b, err := p.Prepare(classes[s])
			if err != nil {
				dp.Err = fmt.Errorf("prepare scan class %s: %w", s, err)
				return dp
			}
			if pl, ok := b.(drivers.Planner); ok {
				sp.Requests = pl.Requests()
			}
		}
		dp.Classes = append(dp.Classes, sp)
	}
	return dp
}

// WritePlan prints plans as `tagbridge plan` shows them.
func WritePlan(w io.Writer, plans []DevicePlan) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	var totalReq, totalTags, unplanned int
	for _, dp := range plans {
		fmt.Fprintf(tw, "device %s (driver %s)\n", dp.Device, dp.Driver)
		if dp.Err != nil {
			fmt.Fprintf(tw, "  cannot plan: %v\n", dp.Err)
			continue
		}
		for _, sp := range dp.Classes {
			if sp.Requests == nil {
				unplanned += sp.Tags
				fmt.Fprintf(tw, "  scan %s: %d tags, read as one batch (driver does not describe requests)\n", sp.Scan, sp.Tags)
				continue
			}
			totalReq += len(sp.Requests)
			totalTags += sp.Tags
			fmt.Fprintf(tw, "  scan %s: %d tags in %d requests (%.3f requests/tag)\n", sp.Scan, sp.Tags, len(sp.Requests), ratio(len(sp.Requests), sp.Tags))
			fmt.Fprintf(tw, "    unit\tfc\tstart\tcount\ttags\n")
			for _, r := range sp.Requests {
				fmt.Fprintf(tw, "    %d\t%s\t%d\t%d\t%s\n", r.Unit, r.Function, r.Start, r.Count, tagList(r.Tags))
			}
		}
	}
	if totalTags > 0 {
		fmt.Fprintf(tw, "total: %d requests per scan for %d tags (%.3f requests/tag)\n", totalReq, totalTags, ratio(totalReq, totalTags))
	}
	if unplanned > 0 {
		fmt.Fprintf(tw, "%d tags on drivers that read in one batch (sim, mtconnect)\n", unplanned)
	}
	return tw.Flush()
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func tagList(tags []string) string {
	const show = 4
	if len(tags) <= show {
		return fmt.Sprint(tags)
	}
	return fmt.Sprintf("%v ... (+%d)", tags[:show], len(tags)-show)
}
