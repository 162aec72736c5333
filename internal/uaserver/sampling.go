package uaserver

import (
	"math"
	"time"
)

// minSampling is the fastest item sampling the server honours; a tag is
// never sampled faster than its scan anyway (node.minSample).
const minSampling = 10 * time.Millisecond

// reviseSampling revises a requested sampling interval in ms: -1 (or any
// negative) is the publishing interval, and nothing is faster than the
// tag's scan (a faster sample would only repeat the same value).
func reviseSampling(req float64, n *node, publish time.Duration) float64 {
	ms := req
	if ms < 0 || math.IsNaN(ms) {
		ms = float64(publish / time.Millisecond)
	}
	ms = max(ms, n.minSample, float64(minSampling/time.Millisecond))
	return min(ms, float64(time.Hour/time.Millisecond))
}

func (it *item) samplingDur() time.Duration {
	return time.Duration(it.sampling * float64(time.Millisecond))
}

// updateFastestLocked finds the shortest item sampling interval below the
// publishing interval and tells the subscription goroutine when its
// sampling tick must change. Called after items or the interval changed.
func (sub *subscription) updateFastestLocked() {
	var fastest time.Duration
	for _, it := range sub.items {
		if d := it.samplingDur(); it.entry != nil && d < sub.interval && (fastest == 0 || d < fastest) {
			fastest = d
		}
	}
	if fastest == sub.fastest {
		return
	}
	sub.fastest = fastest
	select {
	case sub.intervalChng <- struct{}{}:
	default:
	}
}

// sampleLocked drains the watcher into the pending list, then samples every
// pending item whose sampling interval has elapsed: an item samples its
// entry at most once per its own interval (changes in between coalesce to
// the latest), and an item faster than the publishing interval queues up
// to its queue size of samples between two publish messages.
func (sub *subscription) sampleLocked() {
	for _, e := range sub.w.Drain(nil) {
		for it := sub.byEntry[e]; it != nil; it = it.sibling {
			if !it.dirty {
				it.dirty = true
				sub.pending = append(sub.pending, it)
			}
		}
	}
	if len(sub.pending) == 0 {
		return
	}
	now := int64(time.Since(sub.epoch))
	keep := sub.pending[:0]
	for _, it := range sub.pending {
		if it.entry == nil || sub.items[it.id] != it {
			it.dirty = false // deleted, or its node went away in a reload
			continue
		}
		if now < it.next {
			keep = append(keep, it)
			continue
		}
		it.dirty = false
		// 10% slack so a tick that fires a little early does not push the
		// sample to the next tick.
		it.next = now + int64(it.samplingDur()*9/10)
		sub.takeSample(it, it.entry.Load(), false)
	}
	clear(sub.pending[len(keep):])
	sub.pending = keep
}
