package mapping

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// BenchmarkDecode: the per-tag cost of a scan (100k tags/s is the target
// load). Values alternate so that half the samples publish.
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name  string
		tag   *Tag
		a, b  any
		store bool
	}{
		{"unscaled-int16", newTag(drivers.Int16, nil), int16(1), int16(2), false},
		{"unscaled-float32-deadband", func() *Tag { t := newTag(drivers.Float32, nil); t.Deadband.Absolute = 0.5; return t }(), float32(1), float32(1.2), false},
		{"scaled-int16-clamp", newTag(drivers.Int16, rangeScale(0, 27648, 0, 100, true)), int16(100), int16(30000), false},
		{"scaled-publish", newTag(drivers.Uint16, &Scale{Gain: 0.1}), uint16(1), uint16(2), true},
	}
	now := time.Now()
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			sa := drivers.Sample{Value: tc.a, Quality: drivers.Good, Time: now}
			sb := drivers.Sample{Value: tc.b, Quality: drivers.Good, Time: now}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s := sa
				if i&2 != 0 {
					s = sb
				}
				if tc.store {
					tc.tag.Publish(s, now)
				} else {
					tc.tag.Decode(s, now)
				}
			}
		})
	}
}

// BenchmarkStoreFanout: one Entry.Set with 1, 10 and 100 watchers, each
// drained every 64 sets like a subscription's publish loop.
func BenchmarkStoreFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint(n, "-watchers"), func(b *testing.B) {
			e := NewStore().Entry("x")
			ws := make([]*Watcher, n)
			for i := range ws {
				ws[i] = NewWatcher()
				e.Watch(ws[i])
			}
			v := Value{V: 1.0, Quality: drivers.Good}
			var buf []*Entry
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e.Set(v)
				if i%64 == 63 {
					for _, w := range ws {
						buf = w.Drain(buf[:0])
						select {
						case <-w.C:
						default:
						}
					}
				}
			}
		})
	}
}

// BenchmarkPublishWatched is the per-tag cost of the 100k-tag scenario:
// an unscaled float32 that changes every scan, watched by one subscription
// that drains every 1000 tags (about one device's scan).
func BenchmarkPublishWatched(b *testing.B) {
	const n = 1000
	s := NewStore()
	w := NewWatcher()
	tags := make([]*Tag, n)
	for i := range tags {
		tags[i] = newTag(drivers.Float32, nil)
		tags[i].Entry = s.Entry(fmt.Sprint("t", i))
		tags[i].Entry.Watch(w)
	}
	vals := [2]any{float32(1.5), float32(2.5)}
	now := time.Now()
	var buf []*Entry
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % n
		tags[k].Publish(drivers.Sample{Value: vals[(i/n)&1], Quality: drivers.Good, Time: now}, now)
		if k == n-1 {
			buf = w.Drain(buf[:0])
			for _, e := range buf {
				_ = e.Load()
			}
		}
	}
}

// BenchmarkEntryLoad is a subscription reading values while a poller sets
// them: the cost of Load and Set with both sides running in parallel.
func BenchmarkEntryLoad(b *testing.B) {
	e := NewStore().Entry("x")
	e.Set(Value{V: 1.0, Quality: drivers.Good})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		v := Value{V: 2.0, Quality: drivers.Good}
		for i := 0; ; i++ {
			if i%64 == 0 {
				select {
				case <-stop:
					return
				default:
				}
			}
			e.Set(v)
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if e.Load().Quality != drivers.Good {
			b.Fatal("bad quality")
		}
	}
	close(stop)
	<-done
}

// BenchmarkStoreMemory reports the heap one published, watched tag holds
// in the store (Entry, value, watch links), as B/entry, for 100k entries.
func BenchmarkStoreMemory(b *testing.B) {
	const n = 100_000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprint("dev/T", i)
	}
	var per float64
	b.ReportAllocs()
	for b.Loop() {
		before := heapInUse()
		s := NewStore()
		w := NewWatcher()
		for i, p := range paths {
			e := s.Entry(p)
			e.Watch(w)
			e.Set(Value{V: float32(i), Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
		}
		_ = w.Drain(nil)
		per = float64(heapInUse()-before) / n
		runtime.KeepAlive(s)
		runtime.KeepAlive(w)
	}
	b.ReportMetric(per, "B/entry")
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
