package main

import (
	"context"
	"fmt"
	"time"
)

// scenario is one bounded measurement.
type scenario struct {
	name   string
	optIn  bool // not in the default set (too big for a quick run)
	setup  string
	target string
	neuron string
	run    func(ctx context.Context, o opts, res *result) error
}

// scenarios lists every scenario in run order.
func scenarios() []scenario {
	return []scenario{
		loadScenario("tags10k_1s_10dev", false, 10_000, time.Second, 1, time.Second,
			"e2e p99 <= 1000+1000+5 ms", ""),
		loadScenario("tags100k_1s_10dev", true, 100_000, time.Second, 1, time.Second,
			"RSS <= 150 MB, CPU <= 0.3 core; e2e p99 <= 2005 ms", "497 MB, ~1.2 cores (30 % of 4)"),
		loadScenario("tags100k_1s_noclient", true, 100_000, time.Second, 0, 0,
			"polling alone: the share of tags100k_1s_10dev's RSS and CPU that is not the OPC UA server", "497 MB, ~1.2 cores (30 % of 4)"),
		loadScenario("tags10k_100ms", false, 10_000, 100*time.Millisecond, 0, 0,
			"req/scan = min", "189 MB, ~0.84 core (21 % of 4)"),
		loadScenario("items1k_100ms", false, 1_000, 100*time.Millisecond, 1, 100*time.Millisecond,
			"e2e p99 <= 100+100+5 ms", ""),
		loadScenario("items10k_100ms", false, 10_000, 100*time.Millisecond, 1, 100*time.Millisecond,
			">= 100k notif/s; e2e p99 <= 205 ms", ""),
		loadScenario("items100k_100ms", true, 100_000, 100*time.Millisecond, 1, 100*time.Millisecond,
			"100k items served; >= 100k notif/s; e2e p99 <= 205 ms", ""),
		{name: "blackhole", setup: "10 dev x 100 tags @100ms, dev09 black-holed (timeout 1s); control run first",
			target: "healthy p99 scan period <= 110 ms", run: runBlackhole},
		{name: "reconnect", setup: "2 dev x 100 tags @100ms, dev00 killed/restarted",
			target: "no goroutine or fd growth", run: runReconnect},
		{name: "soak", setup: "10k tags @1s over 10 dev, all subscribed",
			target: "RSS and goroutine growth <= 5 % after warm-up", run: runSoak},
		{name: "throughput", setup: "10 dev x 1000 tags, scan 1ms (as fast as possible)",
			target: "gateway >= 90 % of bare loop", run: runThroughput},
		{name: "writes", setup: "10k tags @1s over 10 dev + 100 writes",
			target: "write p99 <= 50 ms", neuron: "avg 523 ms, max 778 ms (100k load)", run: runWrites},
		{name: "writes100k", optIn: true, setup: "100k tags @1s over 10 dev, all subscribed, + 100 writes",
			target: "write p99 <= 50 ms", neuron: "avg 523 ms, max 778 ms", run: runWrites100k},
		{name: "plan", setup: "8 dev: 1, 59, 60, 61, 119, 120, 1000, 2500 tags @1s",
			target: "req/scan = min (ratio 1.00)", run: runPlan},
	}
}

// loadScenario: T tags over 10 devices at scan; a client subscribed to a
// share of them (0 = no client) at the publishing interval.
func loadScenario(name string, optIn bool, tags int, scan time.Duration, share float64, pub time.Duration, target, neuron string) scenario {
	setup := fmt.Sprintf("%s tags @%s over 10 dev", count(tags), scan)
	if share > 0 {
		setup += fmt.Sprintf(", %s items @%s publishing", count(int(float64(tags)*share)), pub)
	} else {
		setup += ", no client"
	}
	return scenario{name: name, optIn: optIn, setup: setup, target: target, neuron: neuron,
		run: func(ctx context.Context, o opts, res *result) error {
			r, err := startRig(ctx, o, rigSpec{devices: 10, tags: tags, scan: scan})
			if err != nil {
				return err
			}
			defer r.close()
			if share > 0 {
				n, err := r.subscribe(ctx, share, pub)
				if err != nil {
					return err
				}
				res.Key = fmt.Sprintf("%d items monitored", n)
			}
			if err := r.measure(ctx, o, res); err != nil {
				return err
			}
			if share > 0 {
				res.Key += fmt.Sprintf(", %s notif/s", count(int(res.NotifPerS)))
			}
			return nil
		}}
}

// count prints 10000 as 10k.
func count(n int) string {
	switch {
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	default:
		return fmt.Sprint(n)
	}
}
