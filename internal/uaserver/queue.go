package uaserver

import (
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// sampled is the part of a store value an item keeps: the last reported
// value (for the trigger and deadband) and, with queue size 1, the queued
// one too. 40 bytes instead of mapping.Value's 88 (no Err, times as Unix
// nanoseconds, which is all the wire encoding keeps of them anyway).
type sampled struct {
	v        any
	q        drivers.Quality
	has      uint8 // hasSource | hasServer
	src, srv int64 // UnixNano
}

const (
	hasSource = 1 << iota
	hasServer
)

func sampleOf(v mapping.Value) sampled {
	s := sampled{v: v.V, q: v.Quality}
	if !v.Source.IsZero() {
		s.has |= hasSource
		s.src = v.Source.UnixNano()
	}
	if !v.Server.IsZero() {
		s.has |= hasServer
		s.srv = v.Server.UnixNano()
	}
	return s
}

// value is s as a store value (for dataValue).
func (s sampled) value() mapping.Value {
	v := mapping.Value{V: s.v, Quality: s.q}
	if s.has&hasSource != 0 {
		v.Source = time.Unix(0, s.src)
	}
	if s.has&hasServer != 0 {
		v.Server = time.Unix(0, s.srv)
	}
	return v
}

// sameSource reports whether v has the source timestamp of s.
func (s sampled) sameSource(v mapping.Value) bool {
	if v.Source.IsZero() {
		return s.has&hasSource == 0
	}
	return s.has&hasSource != 0 && v.Source.UnixNano() == s.src
}

// queued is the number of values waiting for a Publish.
func (it *item) queued() int {
	n := len(it.queue)
	if it.held {
		n++
	}
	return n
}

// unhold turns a held value into a queued DataValue: before the queue size
// changes from 1, and before the item loses its tag in a reload.
func (it *item) unhold() {
	if !it.held || it.tag == nil {
		it.held = false
		return
	}
	it.held = false
	it.queue = append(it.queue, dataValue(it.tag, it.last.value(), it.ts))
}

// takeSample samples v into it and puts it on the ready list when it has
// something to report.
func (sub *subscription) takeSample(it *item, v mapping.Value, force bool) {
	it.sample(v, force)
	sub.noteLocked(it)
}

// noteLocked puts it on the ready list when it reports and has values
// queued. The list is what Publish walks, so a subscription of thousands
// of items where few changed costs only those few. Items leave the list
// lazily: when drained, or when found disabled, deleted or empty.
func (sub *subscription) noteLocked(it *item) {
	if !it.ready && it.mode == ua.MonitoringModeReporting && it.queued() > 0 {
		it.ready = true
		sub.ready = append(sub.ready, it)
	}
}

// trimReadyLocked drops the items at the head of the ready list that have
// nothing to report any more and says whether one is left.
func (sub *subscription) trimReadyLocked() bool {
	i := 0
	for ; i < len(sub.ready); i++ {
		it := sub.ready[i]
		if it.mode == ua.MonitoringModeReporting && it.queued() > 0 {
			break
		}
		it.ready = false
	}
	sub.dropReadyLocked(i)
	return len(sub.ready) > 0
}

// dropReadyLocked removes the first n items of the ready list.
func (sub *subscription) dropReadyLocked(n int) {
	if n == 0 {
		return
	}
	k := copy(sub.ready, sub.ready[n:])
	clear(sub.ready[k:])
	sub.ready = sub.ready[:k]
	if k == 0 && cap(sub.ready) > 1024 {
		sub.ready = nil // do not keep a burst's capacity forever
	}
}

func (sub *subscription) hasNotificationsLocked() bool { return sub.trimReadyLocked() }

// watchLocked adds it to the items watching its entry: the first item of
// an entry is in byEntry, the others hang off it by sibling, so an entry
// watched once (the usual case) costs one map slot and no slice.
func (sub *subscription) watchLocked(it *item) {
	head := sub.byEntry[it.entry]
	if head == nil {
		it.entry.Watch(sub.w)
	}
	it.sibling = head
	sub.byEntry[it.entry] = it
}

// unwatchLocked removes it from the items watching its entry.
func (sub *subscription) unwatchLocked(it *item) {
	head := sub.byEntry[it.entry]
	if head == it {
		if it.sibling == nil {
			delete(sub.byEntry, it.entry)
			it.entry.Unwatch(sub.w)
		} else {
			sub.byEntry[it.entry] = it.sibling
		}
		it.sibling = nil
		return
	}
	for x := head; x != nil; x = x.sibling {
		if x.sibling == it {
			x.sibling = it.sibling
			it.sibling = nil
			return
		}
	}
}
