package uaserver

import (
	"math"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/mapping"
)

const maxQueueSize = 100

// item is one monitored item. All fields are guarded by its subscription's
// mutex.
//
// With 100k items the layout matters (about 160 bytes per item): small
// fields first, no copy of the whole store value, and no DataValue for the
// usual queue size 1 (the queued value is last, see held).
type item struct {
	id, handle uint32
	attr       ua.AttributeID
	ts         ua.TimestampsToReturn
	mode       ua.MonitoringMode
	queueSize  uint32
	trigger    ua.DataChangeTrigger
	discardOld bool
	hasLast    bool
	held       bool // queue size 1 and last is queued: built into the message when published
	dirty      bool // in the subscription's pending list
	ready      bool // in the subscription's ready list

	node     *node
	tag      *mapping.Tag   // nil: a static attribute, reported once
	entry    *mapping.Entry // the store entry it watches
	sibling  *item          // the next item of the subscription watching entry
	sampling float64
	deadband float64 // absolute threshold derived from the filter (0: none)
	next     int64   // earliest time of the next sample, ns since the subscription's epoch

	queue []*ua.DataValue // queue sizes above 1, attribute values, statuses
	last  sampled
}

// setFilter validates a DataChangeFilter (the only filter for data items).
func (it *item) setFilter(eo *ua.ExtensionObject) ua.StatusCode {
	it.trigger = ua.DataChangeTriggerStatusValue
	it.deadband = 0
	if eo == nil || eo.Value == nil {
		return ua.StatusOK
	}
	f, ok := eo.Value.(*ua.DataChangeFilter)
	if !ok {
		return ua.StatusBadFilterNotAllowed
	}
	if f.Trigger > ua.DataChangeTriggerStatusValueTimestamp {
		return ua.StatusBadMonitoredItemFilterInvalid
	}
	numeric := it.tag != nil && it.tag.Type.Numeric()
	switch ua.DeadbandType(f.DeadbandType) {
	case ua.DeadbandTypeNone:
	case ua.DeadbandTypeAbsolute:
		if !numeric || f.DeadbandValue < 0 || math.IsNaN(f.DeadbandValue) {
			return ua.StatusBadDeadbandFilterInvalid
		}
		it.deadband = f.DeadbandValue
	case ua.DeadbandTypePercent:
		if !numeric || it.tag.Range == nil {
			return ua.StatusBadFilterNotAllowed // percent needs an EURange
		}
		if f.DeadbandValue < 0 || f.DeadbandValue > 100 {
			return ua.StatusBadDeadbandFilterInvalid
		}
		it.deadband = f.DeadbandValue / 100 * math.Abs(it.tag.Range[1]-it.tag.Range[0])
	default:
		return ua.StatusBadDeadbandFilterInvalid
	}
	it.trigger = f.Trigger
	return ua.StatusOK
}

// sample applies the trigger and deadband and queues the value when it is
// reported; force bypasses the filter (the initial value).
func (it *item) sample(v mapping.Value, force bool) {
	if it.mode == ua.MonitoringModeDisabled || it.tag == nil {
		return
	}
	if !force && it.hasLast && !it.changed(v) {
		return
	}
	it.last, it.hasLast = sampleOf(v), true
	if it.queueSize == 1 {
		// The latest value wins (Part 4, 5.12.1.5): keep it in last only.
		clear(it.queue)
		it.queue = it.queue[:0]
		it.held = true
		return
	}
	it.push(dataValue(it.tag, v, it.ts))
}

func (it *item) changed(v mapping.Value) bool {
	old := it.last
	if v.Quality != old.q {
		return true
	}
	if it.trigger == ua.DataChangeTriggerStatus {
		return false
	}
	if it.trigger == ua.DataChangeTriggerStatusValueTimestamp && !old.sameSource(v) {
		return true
	}
	if it.deadband > 0 {
		a, ok1 := asFloat(v.V)
		b, ok2 := asFloat(old.v)
		if ok1 && ok2 {
			// Floats, never integer subtraction: no wrap on unsigned types.
			return math.Abs(a-b) > it.deadband
		}
	}
	return v.V != old.v
}

// push queues dv; a full queue drops the oldest (or the newest) value and
// sets the Overflow info bit on the value next to the gap (Part 4, 5.12.1.5).
func (it *item) push(dv *ua.DataValue) {
	const overflow = 0x0480 // InfoType DataValue + Overflow
	if uint32(len(it.queue)) < it.queueSize {
		it.queue = append(it.queue, dv)
		return
	}
	if it.queueSize == 1 {
		it.queue[0] = dv // queue size 1: the latest value wins, no overflow bit (Part 4, 5.12.1.5)
		return
	}
	if it.discardOld {
		it.queue = append(it.queue[1:], dv)
		it.queue[0].EncodingMask |= ua.DataValueStatusCode
		it.queue[0].Status |= overflow
	} else {
		it.queue[len(it.queue)-1] = dv
		dv.EncodingMask |= ua.DataValueStatusCode
		dv.Status |= overflow
	}
}

func reviseQueue(q uint32) uint32 { return min(max(q, 1), maxQueueSize) }

func (sess *session) createMonitoredItems(r *ua.CreateMonitoredItemsRequest) ua.Response {
	s := sess.srv
	if st := s.checkCount(len(r.ItemsToCreate), s.lim.MaxMonitoredItemsPerCall); st != ua.StatusOK {
		return fault(r, st)
	}
	if r.TimestampsToReturn > ua.TimestampsToReturnNeither {
		return fault(r, ua.StatusBadTimestampsToReturnInvalid)
	}
	sub := sess.sub(r.SubscriptionID)
	if sub == nil {
		return fault(r, ua.StatusBadSubscriptionIDInvalid)
	}
	total := 0
	sess.mu.Lock()
	subs := make([]*subscription, 0, len(sess.subs))
	for _, x := range sess.subs {
		subs = append(subs, x)
	}
	sess.mu.Unlock()
	for _, x := range subs {
		total += x.itemCount()
	}
	sp := s.space.Load()
	res := make([]*ua.MonitoredItemCreateResult, len(r.ItemsToCreate))
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, c := range r.ItemsToCreate {
		res[i] = &ua.MonitoredItemCreateResult{FilterResult: ua.NewExtensionObject(nil)}
		if total >= s.lim.MaxMonitoredItems {
			res[i].StatusCode = ua.StatusBadTooManyMonitoredItems
			continue
		}
		if c == nil || c.ItemToMonitor == nil || c.RequestedParameters == nil {
			res[i].StatusCode = ua.StatusBadNodeIDUnknown
			continue
		}
		n := sp.node(c.ItemToMonitor.NodeID)
		if n == nil {
			res[i].StatusCode = ua.StatusBadNodeIDUnknown
			continue
		}
		if c.MonitoringMode > ua.MonitoringModeReporting {
			res[i].StatusCode = ua.StatusBadMonitoringModeInvalid
			continue
		}
		p := c.RequestedParameters
		it := &item{
			handle: p.ClientHandle, node: n, tag: n.tag, attr: c.ItemToMonitor.AttributeID, ts: r.TimestampsToReturn,
			mode: c.MonitoringMode, sampling: reviseSampling(p.SamplingInterval, n, sub.interval), queueSize: reviseQueue(p.QueueSize),
			discardOld: p.DiscardOldest,
		}
		if it.attr != ua.AttributeIDValue {
			// Other attributes never change: one notification with their value.
			dv := s.readOne(sp, sess, c.ItemToMonitor, r.TimestampsToReturn)
			if dv.EncodingMask&ua.DataValueStatusCode != 0 && dv.Status != ua.StatusOK {
				res[i].StatusCode = dv.Status
				continue
			}
			it.tag = nil
			if it.mode != ua.MonitoringModeDisabled {
				it.queue = append(it.queue, dv)
			}
		} else if n.class != ua.NodeClassVariable {
			res[i].StatusCode = ua.StatusBadAttributeIDInvalid
			continue
		} else if n.tag == nil {
			dv := s.valueOf(n, r.TimestampsToReturn)
			if it.mode != ua.MonitoringModeDisabled {
				it.queue = append(it.queue, dv)
			}
		}
		if it.tag != nil {
			if st := it.setFilter(p.Filter); st != ua.StatusOK {
				res[i].StatusCode = st
				continue
			}
			it.entry = it.tag.Entry
		} else if p.Filter != nil && p.Filter.Value != nil {
			res[i].StatusCode = ua.StatusBadFilterNotAllowed
			continue
		}
		sub.nextItem++
		it.id = sub.nextItem
		sub.items[it.id] = it
		if it.entry != nil {
			sub.watchLocked(it)
			it.sample(it.entry.Load(), true)
		}
		sub.noteLocked(it)
		total++
		res[i].MonitoredItemID = it.id
		res[i].RevisedSamplingInterval = it.sampling
		res[i].RevisedQueueSize = it.queueSize
	}
	sub.updateFastestLocked()
	return &ua.CreateMonitoredItemsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func (sess *session) modifyMonitoredItems(r *ua.ModifyMonitoredItemsRequest) ua.Response {
	s := sess.srv
	if st := s.checkCount(len(r.ItemsToModify), s.lim.MaxMonitoredItemsPerCall); st != ua.StatusOK {
		return fault(r, st)
	}
	sub := sess.sub(r.SubscriptionID)
	if sub == nil {
		return fault(r, ua.StatusBadSubscriptionIDInvalid)
	}
	res := make([]*ua.MonitoredItemModifyResult, len(r.ItemsToModify))
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, m := range r.ItemsToModify {
		res[i] = &ua.MonitoredItemModifyResult{FilterResult: ua.NewExtensionObject(nil)}
		var it *item
		if m != nil {
			it = sub.items[m.MonitoredItemID]
		}
		if it == nil || m.RequestedParameters == nil {
			res[i].StatusCode = ua.StatusBadMonitoredItemIDInvalid
			continue
		}
		p := m.RequestedParameters
		if it.tag != nil {
			if st := it.setFilter(p.Filter); st != ua.StatusOK {
				res[i].StatusCode = st
				continue
			}
		}
		it.handle, it.sampling, it.queueSize, it.discardOld = p.ClientHandle, reviseSampling(p.SamplingInterval, it.node, sub.interval), reviseQueue(p.QueueSize), p.DiscardOldest
		if it.queueSize != 1 {
			it.unhold()
		}
		if uint32(len(it.queue)) > it.queueSize {
			it.queue = it.queue[uint32(len(it.queue))-it.queueSize:]
		}
		if r.TimestampsToReturn <= ua.TimestampsToReturnNeither {
			it.ts = r.TimestampsToReturn
		}
		res[i].RevisedSamplingInterval, res[i].RevisedQueueSize = it.sampling, it.queueSize
	}
	sub.updateFastestLocked()
	return &ua.ModifyMonitoredItemsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func (sess *session) deleteMonitoredItems(r *ua.DeleteMonitoredItemsRequest) ua.Response {
	s := sess.srv
	if st := s.checkCount(len(r.MonitoredItemIDs), s.lim.MaxMonitoredItemsPerCall); st != ua.StatusOK {
		return fault(r, st)
	}
	sub := sess.sub(r.SubscriptionID)
	if sub == nil {
		return fault(r, ua.StatusBadSubscriptionIDInvalid)
	}
	res := make([]ua.StatusCode, len(r.MonitoredItemIDs))
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, id := range r.MonitoredItemIDs {
		it := sub.items[id]
		if it == nil {
			res[i] = ua.StatusBadMonitoredItemIDInvalid
			continue
		}
		sub.removeItemLocked(it)
		clear(it.queue)
		it.queue, it.held = nil, false // leaves the ready list at the next Publish
	}
	return &ua.DeleteMonitoredItemsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func (sub *subscription) removeItemLocked(it *item) {
	delete(sub.items, it.id)
	if it.entry == nil {
		return
	}
	sub.unwatchLocked(it)
}

func (sess *session) setMonitoringMode(r *ua.SetMonitoringModeRequest) ua.Response {
	s := sess.srv
	if st := s.checkCount(len(r.MonitoredItemIDs), s.lim.MaxMonitoredItemsPerCall); st != ua.StatusOK {
		return fault(r, st)
	}
	if r.MonitoringMode > ua.MonitoringModeReporting {
		return fault(r, ua.StatusBadMonitoringModeInvalid)
	}
	sub := sess.sub(r.SubscriptionID)
	if sub == nil {
		return fault(r, ua.StatusBadSubscriptionIDInvalid)
	}
	res := make([]ua.StatusCode, len(r.MonitoredItemIDs))
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, id := range r.MonitoredItemIDs {
		it := sub.items[id]
		if it == nil {
			res[i] = ua.StatusBadMonitoredItemIDInvalid
			continue
		}
		was := it.mode
		it.mode = r.MonitoringMode
		switch {
		case it.mode == ua.MonitoringModeDisabled:
			it.queue, it.hasLast, it.held = nil, false, false
		case was == ua.MonitoringModeDisabled && it.entry != nil:
			it.sample(it.entry.Load(), true)
		}
		sub.noteLocked(it)
	}
	return &ua.SetMonitoringModeResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

// reloaded re-points items at the nodes of a new address space. An item
// whose node is gone reports BadNodeIdUnknown once and stops sampling.
func (sub *subscription) reloaded(sp *space) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, it := range sub.items {
		if it.node == nil {
			continue
		}
		n := sp.nodes[it.node.key()]
		if n != nil && (it.tag == nil) == (n.tag == nil) {
			it.node = n
			if n.tag != nil {
				it.tag = n.tag
				if n.tag.Entry != it.entry {
					sub.removeItemLocked(it)
					sub.items[it.id] = it
					it.entry = n.tag.Entry
					sub.watchLocked(it)
					sub.takeSample(it, it.entry.Load(), true)
				}
			}
			continue
		}
		sub.removeItemLocked(it)
		sub.items[it.id] = it // keep the id valid for Modify/Delete
		it.unhold()
		it.node, it.tag, it.entry = nil, nil, nil
		if it.mode == ua.MonitoringModeReporting {
			it.queue = append(it.queue, &ua.DataValue{
				EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp,
				Status:       ua.StatusBadNodeIDUnknown, ServerTimestamp: time.Now(),
			})
			sub.noteLocked(it)
		}
	}
}
