package poll

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// benchDev answers every read from two prebuilt value sets, alternately,
// so every scan changes every tag and the driver itself costs ~nothing.
type benchDev struct {
	vals [2][]any
	n    int
}

func (d *benchDev) Read(_ context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	now := time.Now()
	vs := d.vals[d.n&1]
	d.n++
	for i := range addrs {
		out[i] = drivers.Sample{Value: vs[i], Quality: drivers.Good, Time: now}
	}
	return nil
}

func (d *benchDev) Close() error { return nil }

// BenchmarkScan measures the scheduler's cost of one scan of a 1000-tag
// device: batch bookkeeping, Publish of every tag (decode + store), status
// tags. Reported per tag as ns/tag.
func BenchmarkScan(b *testing.B) {
	const tags = 1000
	f := newFake(b)
	specs := make([]tagSpec, tags)
	for i := range specs {
		specs[i] = tagSpec{name: fmt.Sprintf("t%04d", i), addr: fmt.Sprintf("a%d", i)}
	}
	store := mapping.NewStore()
	tbl := compile(b, store, device("bench", f.name, time.Second, specs...))
	s := New(tbl, Options{Logger: quietLogger()})
	r := newRunner(s, tbl.Devices[0], nil, func() {})
	dev := &benchDev{}
	for k := range dev.vals {
		dev.vals[k] = make([]any, tags)
		for i := range dev.vals[k] {
			dev.vals[k][i] = float64(i*10 + k)
		}
	}
	cs := r.classes(dev, time.Now())
	if len(cs) != 1 || len(cs[0].tags) != tags {
		b.Fatalf("classes: %d", len(cs))
	}
	ctx := context.Background()
	bo := &backoff{min: time.Millisecond, max: time.Millisecond}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if end, err := r.scan(ctx, dev, cs, cs[0], bo); end != endNone || err != nil {
			b.Fatal(end, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/tags, "ns/tag")
	if v := value(tbl, "bench/t0001").V; v != 10.0 && v != 11.0 {
		b.Fatalf("t0001 = %v", v)
	}
}
