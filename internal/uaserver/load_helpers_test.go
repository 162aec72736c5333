package uaserver

// Setup shared by the load tests and the benchmarks: a large table of
// float64 tags, a server for it, and a client subscription to every tag.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// bigTable has n float64 tags Load/F<i/1000>/T<i> with a 100 ms scan.
func bigTable(store *mapping.Store, n int) *mapping.Table {
	tbl := &mapping.Table{Tags: make([]*mapping.Tag, 0, n)}
	for i := range n {
		p := fmt.Sprintf("Load/F%d/T%d", i/1000, i)
		tbl.Tags = append(tbl.Tags, &mapping.Tag{Path: p, NodeID: p, Type: drivers.Float64, Access: mapping.Read, Scan: 100 * time.Millisecond, Entry: store.Entry(p)})
	}
	return tbl
}

// newLoadServer is a server (not started) for a bigTable of n tags; with
// valued, tag i holds the Good value i.
func newLoadServer(tb testing.TB, n int, valued bool) (*Server, *mapping.Table) {
	tb.Helper()
	tbl := bigTable(mapping.NewStore(), n)
	if valued {
		now := time.Now()
		for i, tg := range tbl.Tags {
			tg.Entry.Set(mapping.Value{V: float64(i), Quality: drivers.Good, Source: now, Server: now})
		}
	}
	srv, err := New(Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:bench", Logger: testLogger()}, tbl)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, tbl
}

// startLoadServer starts srv until the end of the test.
func startLoadServer(tb testing.TB, srv *Server) {
	tb.Helper()
	if err := srv.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
}

// setAll gives every tag of tbl the Good value v, stamped now.
func setAll(tbl *mapping.Table, v float64) {
	now := time.Now()
	for _, tg := range tbl.Tags {
		tg.Entry.Set(mapping.Value{V: v, Quality: drivers.Good, Source: now, Server: now})
	}
}

// monitorAll subscribes to every tag of tbl (client handle i for tag i,
// sampling interval sampling) in requests of 1000 items, which fit a
// 64 KiB message too.
func monitorAll(tb testing.TB, ctx context.Context, c *opcua.Client, tbl *mapping.Table, interval time.Duration, sampling float64) (*opcua.Subscription, chan *opcua.PublishNotificationData) {
	tb.Helper()
	ch := make(chan *opcua.PublishNotificationData, 1024)
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: interval}, ch)
	if err != nil {
		tb.Fatal(err)
	}
	for from := 0; from < len(tbl.Tags); from += 1000 {
		reqs := make([]*ua.MonitoredItemCreateRequest, 0, 1000)
		for i := from; i < min(from+1000, len(tbl.Tags)); i++ {
			r := monItem(tbl.Tags[i].Path, uint32(i))
			r.RequestedParameters.SamplingInterval = sampling
			reqs = append(reqs, r)
		}
		if _, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...); err != nil {
			tb.Fatal(err)
		}
	}
	return sub, ch
}
