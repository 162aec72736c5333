package uaserver

import (
	"runtime"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// cycleRig is a server (not started) with n tags, one session and
// subscriptions of at most 5,000 items each monitoring every tag, as the
// benchmark harness's client sets it up. No goroutine runs: the benchmark
// drives sampling and publishing by hand.
type cycleRig struct {
	srv  *Server
	tbl  *mapping.Table
	sess *session
	subs []*subscription
}

func newCycleRig(tb testing.TB, n int) *cycleRig {
	tb.Helper()
	srv, tbl := newLoadServer(tb, n, true)
	r := newCycleRigOn(tb, srv, tbl)
	r.drain(tb)
	return r
}

// newCycleRigOn subscribes every tag of tbl; the initial values stay queued.
func newCycleRigOn(tb testing.TB, srv *Server, tbl *mapping.Table) *cycleRig {
	tb.Helper()
	n := len(tbl.Tags)
	sess := &session{srv: srv, subs: map[uint32]*subscription{}, cps: map[string]*continuation{}}
	r := &cycleRig{srv: srv, tbl: tbl, sess: sess}
	for off := 0; off < n; off += 5000 {
		id := uint32(len(r.subs) + 1)
		sub := &subscription{
			srv: srv, id: id, interval: time.Second, lifetime: 1000, keepAlive: 10, enabled: true, seq: 1, epoch: time.Now(),
			items: map[uint32]*item{}, byEntry: map[*mapping.Entry]*item{}, w: mapping.NewWatcher(),
			intervalChng: make(chan struct{}, 1), quit: make(chan struct{}), nudge: make(chan struct{}, 1),
		}
		sub.owner.Store(sess)
		sess.subs[id] = sub
		r.subs = append(r.subs, sub)
		end := min(off+5000, n)
		for lo := off; lo < end; lo += 1000 {
			reqs := make([]*ua.MonitoredItemCreateRequest, 0, 1000)
			for i := lo; i < min(lo+1000, end); i++ {
				reqs = append(reqs, &ua.MonitoredItemCreateRequest{
					ItemToMonitor:  &ua.ReadValueID{NodeID: nid(tbl.Tags[i].Path), AttributeID: ua.AttributeIDValue},
					MonitoringMode: ua.MonitoringModeReporting,
					RequestedParameters: &ua.MonitoringParameters{
						ClientHandle: uint32(i), SamplingInterval: 1000, QueueSize: 1, DiscardOldest: true,
					},
				})
			}
			resp := sess.createMonitoredItems(&ua.CreateMonitoredItemsRequest{
				RequestHeader: &ua.RequestHeader{}, SubscriptionID: id,
				TimestampsToReturn: ua.TimestampsToReturnBoth, ItemsToCreate: reqs,
			})
			for _, res := range resp.(*ua.CreateMonitoredItemsResponse).Results {
				if res.StatusCode != ua.StatusOK {
					tb.Fatal(res.StatusCode)
				}
			}
		}
		for _, it := range sub.items {
			it.sampling = 0 // every cycle samples, however fast the benchmark loops
		}
	}
	return r
}

// drain answers Publish requests until no subscription has data, and
// returns the notifications and the encoded bytes.
func (r *cycleRig) drain(tb testing.TB) (notes, bytes int) {
	for _, sub := range r.subs {
		for range 1000 {
			sub.mu.Lock()
			sub.sampleLocked()
			if !sub.hasNotificationsLocked() {
				sub.mu.Unlock()
				break
			}
			p := &pendingPublish{req: &ua.PublishRequest{RequestHeader: &ua.RequestHeader{}}}
			resp, n, _ := sub.messageLocked(p)
			sub.retransmit = nil // the client acknowledges
			sub.mu.Unlock()
			b, err := ua.Encode(resp)
			if err != nil {
				tb.Fatal(err)
			}
			notes, bytes = notes+n, bytes+len(b)
		}
	}
	return notes, bytes
}

// idle is what the subscription goroutines do without new data: a publish
// tick and an incoming Publish request each ask whether there is anything
// to send.
func (r *cycleRig) idle() bool {
	any := false
	for _, sub := range r.subs {
		sub.mu.Lock()
		sub.sampleLocked()
		any = sub.hasNotificationsLocked() || any
		any = sub.hasNotificationsLocked() || any
		sub.mu.Unlock()
	}
	return any
}

// BenchmarkPublishCycle100k is one publishing cycle of 100k monitored items
// in 20 subscriptions of which 1 % changed: sampling, the checks for data
// on the tick and on the Publish request, building and encoding the
// messages.
func BenchmarkPublishCycle100k(b *testing.B) { benchCycle(b, 100000, 100) }

// BenchmarkPublishCycle100kAll is the benchmark scenario's cycle: every
// one of 100k items changed.
func BenchmarkPublishCycle100kAll(b *testing.B) { benchCycle(b, 100000, 1) }

func benchCycle(b *testing.B, n, every int) {
	r := newCycleRig(b, n)
	v := float64(n)
	b.ReportAllocs()
	for b.Loop() {
		v++
		now := time.Now()
		for i := 0; i < n; i += every {
			r.tbl.Tags[i].Entry.Set(mapping.Value{V: v, Quality: drivers.Good, Source: now, Server: now})
		}
		r.idle()
		if got, _ := r.drain(b); got != n/every {
			b.Fatalf("%d notifications, want %d", got, n/every)
		}
		r.idle()
	}
}

// BenchmarkPublishIdle100k is a tick and a Publish request on 100k items
// with nothing changed.
func BenchmarkPublishIdle100k(b *testing.B) {
	r := newCycleRig(b, 100000)
	b.ReportAllocs()
	for b.Loop() {
		if r.idle() {
			b.Fatal("data without a change")
		}
	}
}

// BenchmarkMonitoredItems100k reports the heap that 100k monitored items
// (one value queued each, as between two publishes) take beyond the server.
func BenchmarkMonitoredItems100k(b *testing.B) {
	var per float64
	for b.Loop() {
		store := mapping.NewStore()
		tbl := bigTable(store, 100000)
		srv, err := New(Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:bench"}, tbl)
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rig := newCycleRigOn(b, srv, tbl)
		now := time.Now()
		for i, tg := range tbl.Tags {
			tg.Entry.Set(mapping.Value{V: float64(i + 1), Quality: drivers.Good, Source: now, Server: now})
		}
		for _, sub := range rig.subs {
			sub.mu.Lock()
			sub.sampleLocked()
			sub.mu.Unlock()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / 100000
		runtime.KeepAlive(rig)
	}
	b.ReportMetric(per, "bytes/item")
}

// BenchmarkReadAlloc100 is the server side of a Read of 100 tag values
// (no network, no encoding).
func BenchmarkReadAlloc100(b *testing.B) {
	r := newCycleRig(b, 1000)
	ids := make([]*ua.ReadValueID, 100)
	for i := range ids {
		ids[i] = &ua.ReadValueID{NodeID: nid(r.tbl.Tags[i].Path), AttributeID: ua.AttributeIDValue}
	}
	req := &ua.ReadRequest{RequestHeader: &ua.RequestHeader{}, TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: ids}
	b.ReportAllocs()
	for b.Loop() {
		resp := r.srv.read(r.sess, req)
		if _, err := ua.Encode(resp); err != nil {
			b.Fatal(err)
		}
	}
}
