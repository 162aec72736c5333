package uaserver

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/mapping"
)

// benchServer serves n float64 tags with a value each.
func benchServer(b *testing.B, n int) (*Server, *mapping.Table) {
	b.Helper()
	srv, tbl := newLoadServer(b, n, true)
	startLoadServer(b, srv)
	return srv, tbl
}

// BenchmarkRead100kBy1000 reads 100k tags in batches of 1000 (one batch per
// op, cycling) over loopback with the gopcua client.
func BenchmarkRead100kBy1000(b *testing.B) {
	srv, tbl := benchServer(b, 100000)
	c := (&fixture{srv: srv}).connect(b)
	reqs := make([]*ua.ReadRequest, 100)
	for i := range reqs {
		ids := make([]*ua.ReadValueID, 1000)
		for j := range ids {
			ids[j] = &ua.ReadValueID{NodeID: nid(tbl.Tags[i*1000+j].Path), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}
		}
		reqs[i] = &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: ids}
	}
	i := 0
	for b.Loop() {
		res, err := c.Read(context.Background(), reqs[i%len(reqs)])
		if err != nil || len(res.Results) != 1000 {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "values/s")
}

func BenchmarkNotify10k(b *testing.B)  { benchNotify(b, 10000) }
func BenchmarkNotify100k(b *testing.B) { benchNotify(b, 100000) }

// benchNotify monitors n tags; one op changes every tag once and waits
// until the client received the n notifications.
func benchNotify(b *testing.B, n int) {
	srv, tbl := benchServer(b, n)
	c := (&fixture{srv: srv}).connect(b, opcua.RequestTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, ch := monitorAll(b, ctx, c, tbl, 50*time.Millisecond, 50)
	wait := func(want int) {
		for got := 0; got < want; {
			select {
			case d := <-ch:
				if dc, ok := d.Value.(*ua.DataChangeNotification); ok {
					got += len(dc.MonitoredItems)
				}
			case <-ctx.Done():
				b.Fatalf("got notifications for fewer than %d items", want)
			}
		}
	}
	wait(n) // initial values
	v := float64(n)
	for b.Loop() {
		v++
		setAll(tbl, v)
		wait(n)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "notifications/s")
}

// BenchmarkAddressSpace100k reports the heap the address space of 100k tags
// takes beyond the tag table itself.
func BenchmarkAddressSpace100k(b *testing.B) {
	store := mapping.NewStore()
	tbl := bigTable(store, 100000)
	info := &serverInfo{namespaces: []string{"http://opcfoundation.org/UA/", "urn:bench"}, appURI: "urn:bench",
		start: time.Now(), now: time.Now, limits: Limits{}.withDefaults()}
	var per float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		sp, _ := buildSpace(info, tbl)
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / 100000
		runtime.KeepAlive(sp)
	}
	b.ReportMetric(per, "bytes/tag")
}
