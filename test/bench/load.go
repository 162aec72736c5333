package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"
	sv "github.com/simonvetter/modbus"
)

// runThroughput polls as fast as the gateway can (scan 1 ms: every scan
// overruns, so the next starts at once), then, against the same peers in
// the same run, a bare simonvetter client loop per device sends the same
// requests for the same time. Both are counted at the server.
func runThroughput(ctx context.Context, o opts, res *result) error {
	r, err := startRig(ctx, o, rigSpec{devices: 10, tags: 10_000, scan: time.Millisecond, clock: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.measure(ctx, o, res); err != nil {
		return err
	}
	gw := res.TagsPerS
	r.gw.stop()

	a := r.snap(ctx)
	from := time.Now()
	var wg sync.WaitGroup
	var loopErr atomic.Value
	stop := time.Now().Add(o.duration)
	for i, p := range r.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := bareLoop(ctx, p.addr, r.devs[i].Tags, stop); err != nil {
				loopErr.Store(err)
			}
		}()
	}
	wg.Wait()
	to := time.Now()
	b := r.snap(ctx)
	var regs int64
	for i := range r.peers {
		regs += b.regs[i] - a.regs[i]
	}
	bare := float64(regs) / 2 / to.Sub(from).Seconds()
	res.Key = fmt.Sprintf("gateway %.0f tags/s vs bare loop %.0f tags/s: %.1f %%", gw, bare, 100*gw/bare)
	if err, ok := loopErr.Load().(error); ok {
		res.note("bare loop: %v", err)
	}
	return nil
}

// bareLoop reads n float32 tags from hr:0 in requests of maxRegisters, as
// the planner would, until stop: the library alone, one goroutine per
// device like the gateway.
func bareLoop(ctx context.Context, addr string, n int, stop time.Time) error {
	c, err := sv.NewClient(&sv.ClientConfiguration{URL: "tcp://" + addr, Timeout: time.Second, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		return err
	}
	if err := c.Open(); err != nil {
		return fmt.Errorf("bare loop %s: %w", addr, err)
	}
	defer c.Close()
	regs := 2 * n
	for time.Now().Before(stop) && ctx.Err() == nil {
		for start := 0; start < regs; start += maxRegisters {
			q := min(maxRegisters, regs-start)
			if _, err := c.ReadRegisters(uint16(start), uint16(q), sv.HOLDING_REGISTER); err != nil {
				return fmt.Errorf("bare loop %s: hr:%d x%d (fc3): %w", addr, start, q, err)
			}
		}
	}
	return nil
}

// runWrites issues OPC UA writes during a 10k-tag load with every tag
// subscribed, and times each from the Write call to the register write
// arriving at the peer.
func runWrites(ctx context.Context, o opts, res *result) error {
	return runWritesUnder(ctx, o, res, 10_000)
}

// runWrites100k is runWrites under NeuronEX's 100k-tag load.
func runWrites100k(ctx context.Context, o opts, res *result) error {
	return runWritesUnder(ctx, o, res, 100_000)
}

func runWritesUnder(ctx context.Context, o opts, res *result, tags int) error {
	const writes = 100
	r, err := startRig(ctx, o, rigSpec{devices: 10, tags: tags, scan: time.Second, writeTag: true})
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

	var mu sync.Mutex
	started := map[float32]time.Time{}
	var lat []float64
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	arrived := make(chan struct{}, writes)
	for _, p := range r.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-wctx.Done():
					return
				case ev := <-p.writes:
					mu.Lock()
					if t, ok := started[ev.value]; ok && ev.addr == writeBase {
						lat = append(lat, float64(ev.at.Sub(t))/float64(time.Millisecond))
						delete(started, ev.value)
						arrived <- struct{}{}
					}
					mu.Unlock()
				}
			}
		}()
	}

	a := r.snap(ctx)
	statuses := map[string]int{}
	var rtt []float64
	sent := 0
	for i := range writes {
		d := r.devs[i%len(r.devs)]
		v := float32(1_000_000 + i)
		node := ua.NewStringNodeID(r.ns, d.Name+"/W")
		t0 := time.Now()
		mu.Lock()
		started[v] = t0
		mu.Unlock()
		st, err := writeOnce(ctx, r.ua, node, v)
		rtt = append(rtt, float64(time.Since(t0))/float64(time.Millisecond))
		if err != nil {
			statuses["error: "+err.Error()]++
		} else {
			statuses[statusName(st)]++
			sent++
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	got := 0
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for got < writes {
		select {
		case <-arrived:
			got++
			continue
		case <-deadline.C:
		}
		break
	}
	cancel()
	wg.Wait()
	b := r.snap(ctx)
	res.RSSMB = float64(b.proc.rssKB) / 1024
	res.CPU = cores(a.proc, b.proc)
	r.fillPolling(res, a, b, a.proc.at, b.proc.at)
	mu.Lock()
	p50, p99, mx := percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	mu.Unlock()
	res.Key = fmt.Sprintf("write->register p50 %s / p99 %s / max %s ms (%d of %d reached the PLC); Write round trip p50 %s / p99 %s ms; status %v",
		fmtNum(p50, "%.1f"), fmtNum(p99, "%.1f"), fmtNum(mx, "%.1f"), got, writes,
		fmtNum(percentile(rtt, 50), "%.1f"), fmtNum(percentile(rtt, 99), "%.1f"), statuses)
	return nil
}

// runPlan counts, at the server, the requests per scan for tag counts
// around the request-size boundaries, against the independent minimum.
func runPlan(ctx context.Context, o opts, res *result) error {
	per := []int{1, 59, 60, 61, 119, 120, 1000, 2500}
	r, err := startRig(ctx, o, rigSpec{devices: len(per), perDevice: per, scan: time.Second})
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.measure(ctx, o, res); err != nil {
		return err
	}
	res.Key = fmt.Sprintf("ratio %s overall, worst device %s", fmtNum(res.PlanRatio, "%.2f"), fmtNum(res.PlanWorst, "%.2f"))
	return nil
}
