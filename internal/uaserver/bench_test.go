package uaserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// BenchmarkRead1000 reads 1000 tag values per request over loopback with
// the gopcua client; values/s = 1000 * ops/s.
func BenchmarkRead1000(b *testing.B) {
	store := mapping.NewStore()
	tbl := &mapping.Table{}
	ids := make([]*ua.ReadValueID, 1000)
	for i := range ids {
		p := fmt.Sprintf("Bench/Dev%d/Tag%d", i/100, i)
		e := store.Entry(p)
		e.Set(mapping.Value{V: float64(i), Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
		tbl.Tags = append(tbl.Tags, &mapping.Tag{Path: p, NodeID: p, Type: drivers.Float64, Access: mapping.Read, Entry: e})
		ids[i] = &ua.ReadValueID{NodeID: nid(p), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}
	}
	srv, err := New(Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:bench"}, tbl)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c := (&fixture{srv: srv}).connect(b)
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth, NodesToRead: ids}
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Read(context.Background(), req)
		if err != nil || len(res.Results) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "values/s")
}
