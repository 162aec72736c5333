package uaserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// BenchmarkPublishLatency measures, per notification, the time from
// mapping.Entry.Set to the notification arriving at a gopcua client on
// loopback, with a 100 ms publishing interval. Each op waits a random
// 0-100 ms (so updates land at every phase of the publish cycle), updates
// every monitored tag once and waits for all notifications. Metrics:
// set->client p50/p99 (includes the wait for the next publish tick, 50 ms
// on average) and tick->written p50/p99 (server side: from the publish
// timer firing, or a Publish request arriving, to the response written to
// the socket).
//
//	go test -run '^$' -bench BenchmarkPublishLatency -benchtime 50x ./internal/uaserver/
func BenchmarkPublishLatency(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) { benchLatency(b, n) })
	}
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, int(p*float64(len(d))))]) / float64(time.Millisecond)
}

func benchLatency(b *testing.B, n int) {
	srv, tbl := newLoadServer(b, n, true)
	var mu sync.Mutex
	var server []time.Duration
	srv.publishHook = func(due, written time.Time, notes int) {
		if notes > 0 {
			mu.Lock()
			server = append(server, written.Sub(due))
			mu.Unlock()
		}
	}
	startLoadServer(b, srv)
	c := (&fixture{srv: srv}).connect(b, opcua.RequestTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, ch := monitorAll(b, ctx, c, tbl, 100*time.Millisecond, 0)
	setAt := make([]time.Time, n)
	var client []time.Duration
	// wait collects notifications carrying v (any value: -1) until every
	// item reported it.
	wait := func(v float64, record bool) {
		for got := 0; got < n; {
			select {
			case d := <-ch:
				at := time.Now()
				dc, ok := d.Value.(*ua.DataChangeNotification)
				if !ok {
					continue
				}
				for _, mi := range dc.MonitoredItems {
					if v >= 0 && (mi.Value == nil || mi.Value.Value == nil || mi.Value.Value.Value() != v) {
						continue
					}
					got++
					if record {
						client = append(client, at.Sub(setAt[mi.ClientHandle]))
					}
				}
			case <-ctx.Done():
				b.Fatalf("notifications for fewer than %d items", n)
			}
		}
	}
	wait(-1, false) // initial values
	mu.Lock()
	server = server[:0]
	mu.Unlock()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	v := float64(n)
	for b.Loop() {
		b.StopTimer()
		time.Sleep(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
		b.StartTimer()
		v++
		for i, tg := range tbl.Tags {
			ts := time.Now()
			tg.Entry.Set(mapping.Value{V: v, Quality: drivers.Good, Source: ts, Server: ts})
			setAt[i] = ts
		}
		wait(v, true)
	}
	b.StopTimer()
	b.ReportMetric(percentile(client, 0.50), "set->client-p50-ms")
	b.ReportMetric(percentile(client, 0.99), "set->client-p99-ms")
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(percentile(server, 0.50), "tick->written-p50-ms")
	b.ReportMetric(percentile(server, 0.99), "tick->written-p99-ms")
}
