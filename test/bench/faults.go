package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"
)

// runBlackhole: ten devices at 100 ms, one of them black-holed; the nine
// others' scan periods as their peers saw them (time between the arrivals
// of the first request of consecutive scans). A control run with the tenth
// device healthy comes first, so that jitter of the machine itself (other
// load on a shared box) is not blamed on the dead device.
func runBlackhole(ctx context.Context, o opts, res *result) error {
	control := newResult("", "")
	c50, c99, _, _, err := blackholeRun(ctx, o, control, 0)
	if err != nil {
		return fmt.Errorf("control run: %w", err)
	}
	p50, p99, mx, n, err := blackholeRun(ctx, o, res, 1)
	if err != nil {
		return err
	}
	res.Key = fmt.Sprintf("healthy 9: scan period p50 %s / p99 %s / max %s ms (%d intervals); control without black hole p50 %s / p99 %s ms",
		fmtNum(p50, "%.1f"), fmtNum(p99, "%.1f"), fmtNum(mx, "%.1f"), n, fmtNum(c50, "%.1f"), fmtNum(c99, "%.1f")) + res.Key
	if p99 > 110 {
		res.note("p99 above target")
	}
	return nil
}

func blackholeRun(ctx context.Context, o opts, res *result, holes int) (p50, p99, mx float64, n int, err error) {
	const scan = 100 * time.Millisecond
	r, err := startRig(ctx, o, rigSpec{devices: 10, tags: 1000, scan: scan, blackholed: holes})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer r.close()
	from := time.Now().Add(o.warmup)
	if err := r.measure(ctx, o, res); err != nil {
		return 0, 0, 0, 0, err
	}
	to := time.Now()
	var all []float64
	for _, p := range r.peers[:9] {
		ts := p.scanStarts(from, to)
		iv := intervalsMs(ts)
		all = append(all, iv...)
		if r.verbose {
			for i, d := range iv {
				if d > 110 {
					fmt.Printf("  %s: scan period %.1f ms at +%.2fs\n", p.name, d, ts[i+1].Sub(from).Seconds())
				}
			}
		}
	}
	if holes > 0 {
		if r.verbose {
			for _, t := range r.holes[0].accepts() {
				fmt.Printf("  black hole: connection accepted at %+.2fs\n", t.Sub(from).Seconds())
			}
		}
		// What a client sees for the dead device (must be BadCommunicationError).
		if err := r.connect(ctx); err == nil {
			id := ua.NewStringNodeID(r.ns, r.devs[len(r.devs)-1].Name+"/"+tagName(0))
			rr, err := r.ua.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: id, AttributeID: ua.AttributeIDValue}}})
			if err == nil && len(rr.Results) == 1 {
				res.Key = fmt.Sprintf("; dead device's tags: %s", statusName(rr.Results[0].Status))
			}
		}
	}
	return percentile(all, 50), percentile(all, 99), percentile(all, 100), len(all), nil
}

// statusName turns a StatusCode into its short name ("BadCommunicationError").
func statusName(s ua.StatusCode) string {
	if s == ua.StatusOK {
		return "Good"
	}
	for _, f := range strings.Fields(s.Error()) {
		if name, ok := strings.CutPrefix(f, "Status"); ok && name != "" {
			return name
		}
	}
	return fmt.Sprintf("0x%08X", uint32(s))
}

// runReconnect kills and restarts one peer K times and compares the
// gateway's goroutines (from /metrics) and open fds (from /proc) before and
// after.
func runReconnect(ctx context.Context, o opts, res *result) error {
	cycles := 1000
	if o.short {
		cycles = 50
	}
	r, err := startRig(ctx, o, rigSpec{devices: 2, tags: 200, scan: 100 * time.Millisecond,
		backoffMin: 50 * time.Millisecond, backoffMax: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	defer r.close()
	if err := sleepCtx(ctx, o.warmup); err != nil {
		return err
	}
	before := r.snap(ctx)
	victim := r.peers[0]
	ok, worst := 0, time.Duration(0)
	var recover []float64
	deadline := time.Now().Add(max(o.duration*5, 10*time.Minute))
	for i := 0; i < cycles && time.Now().Before(deadline); i++ {
		victim.stop()
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
		if err := victim.start(); err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
		up := time.Now()
		back := false
		for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); {
			if victim.lastScan().After(up) {
				back = true
				break
			}
			if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
				return err
			}
		}
		if back {
			ok++
			d := victim.lastScan().Sub(up)
			worst = max(worst, d)
			recover = append(recover, float64(d)/float64(time.Millisecond))
		}
	}
	// Let the last reconnect settle before counting.
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	after := r.snap(ctx)
	if !r.gw.alive() {
		return fmt.Errorf("gateway exited:\n%s", r.gw.logTail(20))
	}
	res.RSSMB = float64(after.proc.rssKB) / 1024
	res.CPU = cores(before.proc, after.proc)
	g0, g0ok := metricSum(before.metrics, "go_goroutines", nil)
	g1, g1ok := metricSum(after.metrics, "go_goroutines", nil)
	gor := "goroutines n/a (no /metrics)"
	if g0ok && g1ok {
		gor = fmt.Sprintf("goroutines %.0f -> %.0f", g0, g1)
		res.Goroutines = g1
	}
	res.Key = fmt.Sprintf("%d/%d cycles recovered (back in p50 %s / max %.0f ms); %s; fds %d -> %d; threads %d -> %d",
		ok, cycles, fmtNum(median(recover), "%.0f"), float64(worst)/float64(time.Millisecond), gor,
		before.proc.fds, after.proc.fds, before.proc.threads, after.proc.threads)
	if after.proc.fds > before.proc.fds {
		res.note("fd growth")
	}
	return nil
}

// runSoak: 10k tags at 1 s, all subscribed, for the window; RSS and
// goroutines sampled over time; growth from the start of the window (after
// warm-up) to its end, each the median of a few samples.
func runSoak(ctx context.Context, o opts, res *result) error {
	r, err := startRig(ctx, o, rigSpec{devices: 10, tags: 10_000, scan: time.Second})
	if err != nil {
		return err
	}
	defer r.close()
	if _, err := r.subscribe(ctx, 1, time.Second); err != nil {
		return err
	}
	if err := sleepCtx(ctx, o.warmup); err != nil {
		return err
	}
	every := max(o.duration/20, 500*time.Millisecond)
	var rss, gor []float64
	first := r.snap(ctx)
	notif0 := r.coll.total.Load()
	end := time.Now().Add(o.duration)
	fmt.Printf("  soak: t(s)  RSS(MB)  goroutines  threads  fds\n")
	start := time.Now()
	for {
		s := r.snap(ctx)
		if s.procErr != nil {
			return fmt.Errorf("gateway /proc: %w", s.procErr)
		}
		g, ok := metricSum(s.metrics, "go_goroutines", nil)
		if !ok {
			g = math.NaN()
		}
		rss = append(rss, float64(s.proc.rssKB)/1024)
		gor = append(gor, g)
		fmt.Printf("  soak: %5.1f  %7.1f  %10s  %7d  %3d\n", time.Since(start).Seconds(), rss[len(rss)-1],
			fmtNum(g, "%.0f"), s.proc.threads, s.proc.fds)
		if !time.Now().Before(end) {
			break
		}
		if err := sleepCtx(ctx, min(every, time.Until(end)+time.Millisecond)); err != nil {
			return err
		}
	}
	last := r.snap(ctx)
	k := min(3, len(rss)/2)
	k = max(k, 1)
	headR, tailR := median(rss[:k]), median(rss[len(rss)-k:])
	headG, tailG := median(gor[:k]), median(gor[len(gor)-k:])
	res.RSSMB = tailR
	res.CPU = cores(first.proc, last.proc)
	res.Goroutines = tailG
	r.fillPolling(res, first, last, first.proc.at, last.proc.at)
	res.Key = fmt.Sprintf("over %s: RSS %.1f -> %.1f MB (%s %%), goroutines %s -> %s (%s %%)", o.duration.Round(time.Second),
		headR, tailR, fmtNum(growthPct(headR, tailR), "%+.1f"), fmtNum(headG, "%.0f"), fmtNum(tailG, "%.0f"),
		fmtNum(growthPct(headG, tailG), "%+.1f"))
	res.NotifPerS = float64(r.coll.total.Load()-notif0) / last.proc.at.Sub(first.proc.at).Seconds()
	return nil
}
