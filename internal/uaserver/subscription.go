package uaserver

import (
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/mapping"
)

const (
	minPublishInterval = 50 * time.Millisecond
	maxPublishInterval = time.Hour
	maxRetransmit      = 16   // notification messages kept for Republish
	maxNotifPerMessage = 5000 // when the client sets no limit
)

// pendingPublish is a queued Publish request waiting for notifications.
type pendingPublish struct {
	ch    *channel
	reqID uint32
	req   *ua.PublishRequest
	acks  []ua.StatusCode
}

// subscription runs one goroutine that samples its watcher at the
// publishing interval and answers queued Publish requests.
//
// Lock order: session.mu may be held while taking subscription.mu only in
// itemCount-free paths; the subscription goroutine never holds sub.mu while
// it takes session.mu.
type subscription struct {
	sess *session
	id   uint32

	mu           sync.Mutex
	interval     time.Duration
	lifetime     uint32
	keepAlive    uint32
	maxNotif     uint32
	enabled      bool
	priority     uint8
	seq          uint32
	keepCount    uint32
	lifeCount    uint32
	items        map[uint32]*item
	byEntry      map[*mapping.Entry][]*item
	nextItem     uint32
	retransmit   []*ua.NotificationMessage
	w            *mapping.Watcher
	intervalChng chan struct{}
	pending      []*item       // items whose entry changed and that were not sampled yet
	fastest      time.Duration // shortest item sampling interval below the publishing interval (0: none)

	quit     chan struct{}
	quitOnce sync.Once
	nudge    chan struct{}
}

func revise(pi float64, lifetime, keepAlive uint32) (time.Duration, uint32, uint32) {
	d := time.Duration(pi * float64(time.Millisecond))
	d = min(max(d, minPublishInterval), maxPublishInterval)
	if keepAlive == 0 {
		keepAlive = 10
	}
	keepAlive = min(keepAlive, uint32(max(1, int64(10*time.Minute/d))))
	if lifetime < 3*keepAlive {
		lifetime = 3 * keepAlive
	}
	lifetime = min(lifetime, uint32(max(3*int64(keepAlive), int64(2*time.Hour/d))))
	return d, lifetime, keepAlive
}

func (sess *session) createSubscription(r *ua.CreateSubscriptionRequest) ua.Response {
	s := sess.srv
	d, life, keep := revise(r.RequestedPublishingInterval, r.RequestedLifetimeCount, r.RequestedMaxKeepAliveCount)
	sub := &subscription{
		sess: sess, interval: d, lifetime: life, keepAlive: keep, maxNotif: r.MaxNotificationsPerPublish,
		enabled: r.PublishingEnabled, priority: r.Priority, seq: 1,
		items: map[uint32]*item{}, byEntry: map[*mapping.Entry][]*item{}, w: mapping.NewWatcher(),
		intervalChng: make(chan struct{}, 1), quit: make(chan struct{}), nudge: make(chan struct{}, 1),
	}
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return fault(r, ua.StatusBadSessionClosed)
	}
	if len(sess.subs) >= s.lim.MaxSubscriptionsPerSession {
		sess.mu.Unlock()
		return fault(r, ua.StatusBadTooManySubscriptions)
	}
	s.sessions.mu.Lock()
	s.sessions.subID++
	sub.id = s.sessions.subID
	s.sessions.mu.Unlock()
	sess.subs[sub.id] = sub
	s.wg.Add(1)
	sess.mu.Unlock()
	go sub.run()
	return &ua.CreateSubscriptionResponse{
		ResponseHeader: respHeader(r, ua.StatusOK), SubscriptionID: sub.id,
		RevisedPublishingInterval: float64(d / time.Millisecond), RevisedLifetimeCount: life, RevisedMaxKeepAliveCount: keep,
	}
}

func (sess *session) sub(id uint32) *subscription {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.subs[id]
}

func (sess *session) modifySubscription(r *ua.ModifySubscriptionRequest) ua.Response {
	sub := sess.sub(r.SubscriptionID)
	if sub == nil {
		return fault(r, ua.StatusBadSubscriptionIDInvalid)
	}
	d, life, keep := revise(r.RequestedPublishingInterval, r.RequestedLifetimeCount, r.RequestedMaxKeepAliveCount)
	sub.mu.Lock()
	sub.interval, sub.lifetime, sub.keepAlive, sub.maxNotif, sub.priority = d, life, keep, r.MaxNotificationsPerPublish, r.Priority
	sub.updateFastestLocked()
	sub.mu.Unlock()
	select {
	case sub.intervalChng <- struct{}{}:
	default:
	}
	return &ua.ModifySubscriptionResponse{
		ResponseHeader: respHeader(r, ua.StatusOK), RevisedPublishingInterval: float64(d / time.Millisecond),
		RevisedLifetimeCount: life, RevisedMaxKeepAliveCount: keep,
	}
}

func (sess *session) deleteSubscriptions(r *ua.DeleteSubscriptionsRequest) ua.Response {
	if len(r.SubscriptionIDs) == 0 {
		return fault(r, ua.StatusBadNothingToDo)
	}
	res := make([]ua.StatusCode, len(r.SubscriptionIDs))
	for i, id := range r.SubscriptionIDs {
		sess.mu.Lock()
		sub := sess.subs[id]
		delete(sess.subs, id)
		sess.mu.Unlock()
		if sub == nil {
			res[i] = ua.StatusBadSubscriptionIDInvalid
			continue
		}
		sub.stop()
	}
	sess.answerIfNoSubscriptions()
	return &ua.DeleteSubscriptionsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

func (sess *session) setPublishingMode(r *ua.SetPublishingModeRequest) ua.Response {
	if len(r.SubscriptionIDs) == 0 {
		return fault(r, ua.StatusBadNothingToDo)
	}
	res := make([]ua.StatusCode, len(r.SubscriptionIDs))
	for i, id := range r.SubscriptionIDs {
		sub := sess.sub(id)
		if sub == nil {
			res[i] = ua.StatusBadSubscriptionIDInvalid
			continue
		}
		sub.mu.Lock()
		sub.enabled = r.PublishingEnabled
		sub.mu.Unlock()
	}
	return &ua.SetPublishingModeResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res}
}

// publish queues the request; a subscription answers it when it has
// notifications or a keep-alive is due.
func (sess *session) publish(c *channel, reqID uint32, r *ua.PublishRequest) ua.Response {
	acks := make([]ua.StatusCode, len(r.SubscriptionAcknowledgements))
	for i, a := range r.SubscriptionAcknowledgements {
		sub := sess.sub(a.SubscriptionID)
		if sub == nil {
			acks[i] = ua.StatusBadSubscriptionIDInvalid
			continue
		}
		acks[i] = sub.ack(a.SequenceNumber)
	}
	sess.mu.Lock()
	if len(sess.subs) == 0 {
		sess.mu.Unlock()
		return &ua.ServiceFault{ResponseHeader: respHeader(r, ua.StatusBadNoSubscription)}
	}
	var dropped *pendingPublish
	sess.pubq = append(sess.pubq, &pendingPublish{ch: c, reqID: reqID, req: r, acks: acks})
	if len(sess.pubq) > sess.srv.lim.MaxPublishRequests {
		dropped = sess.pubq[0]
		sess.pubq = sess.pubq[1:]
	}
	subs := make([]*subscription, 0, len(sess.subs))
	for _, sub := range sess.subs {
		subs = append(subs, sub)
	}
	sess.mu.Unlock()
	if dropped != nil {
		dropped.ch.send(dropped.reqID, fault(dropped.req, ua.StatusBadTooManyPublishRequests))
	}
	for _, sub := range subs {
		select {
		case sub.nudge <- struct{}{}:
		default:
		}
	}
	return nil
}

// answerIfNoSubscriptions fails queued Publish requests once the last
// subscription is gone, so clients do not wait for their timeout.
func (sess *session) answerIfNoSubscriptions() {
	sess.mu.Lock()
	var pending []*pendingPublish
	if len(sess.subs) == 0 {
		pending, sess.pubq = sess.pubq, nil
	}
	sess.mu.Unlock()
	for _, p := range pending {
		p.ch.send(p.reqID, fault(p.req, ua.StatusBadNoSubscription))
	}
}

func (sess *session) takePublish() *pendingPublish {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	for len(sess.pubq) > 0 {
		p := sess.pubq[0]
		sess.pubq = sess.pubq[1:]
		if !p.ch.isClosed() {
			return p
		}
	}
	return nil
}

func (sess *session) hasPublish() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return len(sess.pubq) > 0
}

func (sess *session) republish(r *ua.RepublishRequest) ua.Response {
	sub := sess.sub(r.SubscriptionID)
	if sub == nil {
		return fault(r, ua.StatusBadSubscriptionIDInvalid)
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, m := range sub.retransmit {
		if m.SequenceNumber == r.RetransmitSequenceNumber {
			return &ua.RepublishResponse{ResponseHeader: respHeader(r, ua.StatusOK), NotificationMessage: m}
		}
	}
	return fault(r, ua.StatusBadMessageNotAvailable)
}

func (sub *subscription) ack(seq uint32) ua.StatusCode {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for i, m := range sub.retransmit {
		if m.SequenceNumber == seq {
			sub.retransmit = append(sub.retransmit[:i:i], sub.retransmit[i+1:]...)
			return ua.StatusOK
		}
	}
	return ua.StatusBadSequenceNumberUnknown
}

// stop ends the goroutine and releases every watch. It never blocks on the
// goroutine, so a session can be closed from anywhere.
func (sub *subscription) stop() {
	sub.quitOnce.Do(func() {
		close(sub.quit)
		sub.mu.Lock()
		for e := range sub.byEntry {
			e.Unwatch(sub.w)
		}
		sub.byEntry = map[*mapping.Entry][]*item{}
		sub.items = map[uint32]*item{}
		sub.mu.Unlock()
	})
}

func (sub *subscription) itemCount() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.items)
}

func (sub *subscription) run() {
	s := sub.sess.srv
	defer s.wg.Done()
	sub.mu.Lock()
	d := sub.interval
	sub.mu.Unlock()
	t := time.NewTicker(d)
	defer t.Stop()
	st := time.NewTicker(time.Hour) // item sampling faster than publishing
	st.Stop()
	defer st.Stop()
	for {
		select {
		case <-sub.quit:
			return
		case <-s.done:
			return
		case <-sub.intervalChng:
			sub.mu.Lock()
			t.Reset(sub.interval)
			if sub.fastest > 0 {
				st.Reset(sub.fastest)
			} else {
				st.Stop()
			}
			sub.mu.Unlock()
		case <-st.C:
			sub.mu.Lock()
			sub.sampleLocked()
			sub.mu.Unlock()
		case <-sub.nudge:
			sub.mu.Lock()
			sub.lifeCount = 0
			late := sub.enabled && sub.hasNotificationsLocked()
			sub.mu.Unlock()
			if late {
				sub.publishCycle(false)
			}
		case <-t.C:
			sub.publishCycle(true)
		}
	}
}

// publishCycle samples changes and, when there is something to say (data or
// a due keep-alive), answers one queued Publish request (more while the
// message overflows MaxNotificationsPerPublish).
func (sub *subscription) publishCycle(tick bool) {
	sess, s := sub.sess, sub.sess.srv
	sub.mu.Lock()
	sub.sampleLocked()
	hasData := sub.enabled && sub.hasNotificationsLocked()
	if tick && !hasData {
		sub.keepCount++
	}
	due := hasData || sub.keepCount >= sub.keepAlive
	sub.mu.Unlock()
	if !due {
		return
	}
	for range 64 { // bounded: at most 64 messages per cycle
		p := sess.takePublish()
		if p == nil {
			sub.mu.Lock()
			if tick {
				sub.lifeCount++
			}
			expired := sub.lifeCount >= sub.lifetime
			sub.mu.Unlock()
			if expired {
				s.log.Info("opcua: subscription expired (no publish requests)", "id", sub.id)
				sess.mu.Lock()
				delete(sess.subs, sub.id)
				sess.mu.Unlock()
				sub.stop()
			}
			return
		}
		sub.mu.Lock()
		resp, n, more := sub.messageLocked(p)
		sub.keepCount, sub.lifeCount = 0, 0
		sub.mu.Unlock()
		s.nPublish.Add(1) // counted before the send so Stats never lags what a client saw
		s.nNotif.Add(uint64(n))
		p.ch.send(p.reqID, resp)
		if !more {
			return
		}
	}
}

// messageLocked builds the Publish response: a data change message or a
// keep-alive (which carries the next sequence number without using it).
func (sub *subscription) messageLocked(p *pendingPublish) (*ua.PublishResponse, int, bool) {
	max := int(sub.maxNotif)
	if max == 0 || max > maxNotifPerMessage {
		max = maxNotifPerMessage
	}
	var notes []*ua.MonitoredItemNotification
	more := false
	if sub.enabled {
		for _, it := range sub.items {
			if it.mode != ua.MonitoringModeReporting {
				continue
			}
			for len(it.queue) > 0 {
				if len(notes) >= max {
					more = true
					break
				}
				notes = append(notes, &ua.MonitoredItemNotification{ClientHandle: it.handle, Value: it.queue[0]})
				it.queue[0] = nil
				it.queue = it.queue[1:]
			}
		}
	}
	msg := &ua.NotificationMessage{SequenceNumber: sub.seq, PublishTime: time.Now(), NotificationData: []*ua.ExtensionObject{}}
	if len(notes) > 0 {
		msg.NotificationData = []*ua.ExtensionObject{ua.NewExtensionObject(&ua.DataChangeNotification{MonitoredItems: notes})}
		sub.seq++
		if sub.seq == 0 {
			sub.seq = 1
		}
		sub.retransmit = append(sub.retransmit, msg)
		if len(sub.retransmit) > maxRetransmit {
			sub.retransmit = sub.retransmit[1:]
		}
	}
	avail := make([]uint32, len(sub.retransmit))
	for i, m := range sub.retransmit {
		avail[i] = m.SequenceNumber
	}
	return &ua.PublishResponse{
		ResponseHeader: respHeader(p.req, ua.StatusOK), SubscriptionID: sub.id, AvailableSequenceNumbers: avail,
		MoreNotifications: more, NotificationMessage: msg, Results: p.acks,
	}, len(notes), more
}

func (sub *subscription) hasNotificationsLocked() bool {
	for _, it := range sub.items {
		if it.mode == ua.MonitoringModeReporting && len(it.queue) > 0 {
			return true
		}
	}
	return false
}
