package mapping

import (
	"fmt"
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
