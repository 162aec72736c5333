package poll

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// memPrepDev is a Preparer whose batch keeps nothing per tag, so that the
// memory measured is the scheduler's own.
type memPrepDev struct{ benchDev }

type memBatch struct{ n int }

func (b memBatch) Read(context.Context, []drivers.Sample) error { return nil }

func (d *memPrepDev) Prepare(addrs []drivers.Address) (drivers.Batch, error) {
	return memBatch{n: len(addrs)}, nil
}

func heapAlloc() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkClassesMemory reports the live heap the scheduler holds per
// polled tag for one device of 10k tags (New, runner, scan classes), with
// a Preparer (the batch holds the addresses) and without one.
func BenchmarkClassesMemory(b *testing.B) {
	const tags = 10_000
	specs := make([]tagSpec, tags)
	for i := range specs {
		specs[i] = tagSpec{name: fmt.Sprintf("T%05d", i), addr: fmt.Sprintf("hr:%d", 2*i)}
	}
	for _, tc := range []struct {
		name string
		dev  drivers.Device
	}{
		{"preparer", &memPrepDev{}},
		{"read", &benchDev{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tbl := compile(b, mapping.NewStore(), device("mem", "none", time.Second, specs...))
			var per float64
			b.ReportAllocs()
			for b.Loop() {
				before := heapAlloc()
				s := New(tbl, Options{Logger: quietLogger()})
				r := newRunner(s, tbl.Devices[0], nil, func() {})
				cs := r.classes(tc.dev, time.Now())
				per = float64(heapAlloc()-before) / tags
				runtime.KeepAlive(cs)
				runtime.KeepAlive(r)
			}
			b.ReportMetric(per, "B/tag")
		})
	}
}

// A class that shares the Device's tag slice must follow a reload to the
// new table's tags without writing into the old table.
func TestRetargetSharedClass(t *testing.T) {
	t.Parallel()
	specs := []tagSpec{{name: "a", addr: "1"}, {name: "b", addr: "2"}}
	old := compile(t, mapping.NewStore(), device("d", "none", time.Second, specs...))
	next := compile(t, mapping.NewStore(), device("d", "none", time.Second, specs...))
	oldTags := append([]*mapping.Tag(nil), old.Devices[0].Tags...)
	s := New(old, Options{Logger: quietLogger()})
	r := newRunner(s, old.Devices[0], nil, func() {})
	cs := r.classes(&benchDev{}, time.Now())
	if len(cs) != 1 || len(cs[0].tags) != 2 {
		t.Fatalf("classes: %d", len(cs))
	}
	retargetClasses(cs, next.Devices[0])
	for i, tag := range cs[0].tags {
		if tag != next.Devices[0].Tags[i] {
			t.Errorf("class tag %d is not the new table's", i)
		}
		if old.Devices[0].Tags[i] != oldTags[i] {
			t.Errorf("old table's tag %d was overwritten", i)
		}
	}
}
