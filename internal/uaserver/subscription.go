package uaserver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/mapping"
)

const (
	minPublishInterval = 50 * time.Millisecond
	maxPublishInterval = time.Hour
	maxRetransmit      = 16 // notification messages kept for Republish
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
	srv   *Server
	owner atomic.Pointer[session] // changes on TransferSubscriptions
	id    uint32

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
	byEntry      map[*mapping.Entry]*item // the first item watching an entry; more by item.sibling
	nextItem     uint32
	retransmit   []*ua.NotificationMessage
	w            *mapping.Watcher
	intervalChng chan struct{}
	pending      []*item       // items whose entry changed and that were not sampled yet
	ready        []*item       // reporting items with values queued, in the order they became ready (see noteLocked)
	epoch        time.Time     // origin of item.next (monotonic)
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
		srv: s, interval: d, lifetime: life, keepAlive: keep, maxNotif: r.MaxNotificationsPerPublish,
		enabled: r.PublishingEnabled, priority: r.Priority, seq: 1, epoch: time.Now(),
		items: map[uint32]*item{}, byEntry: map[*mapping.Entry]*item{}, w: mapping.NewWatcher(),
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
	sub.owner.Store(sess)
	sess.subs[sub.id] = sub
	s.wg.Add(1)
	sess.mu.Unlock()
	go sub.run()
	return &ua.CreateSubscriptionResponse{
		ResponseHeader: respHeader(r, ua.StatusOK), SubscriptionID: sub.id,
		RevisedPublishingInterval: float64(d / time.Millisecond), RevisedLifetimeCount: life, RevisedMaxKeepAliveCount: keep,
	}
}

// session is the subscription's current owner.
func (sub *subscription) session() *session { return sub.owner.Load() }

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

// stop ends the goroutine and releases every watch. It never blocks on the
// goroutine, so a session can be closed from anywhere.
func (sub *subscription) stop() {
	sub.quitOnce.Do(func() {
		close(sub.quit)
		sub.mu.Lock()
		for e := range sub.byEntry {
			e.Unwatch(sub.w)
		}
		sub.byEntry = map[*mapping.Entry]*item{}
		sub.items = map[uint32]*item{}
		clear(sub.ready)
		sub.ready = nil
		sub.mu.Unlock()
	})
}

func (sub *subscription) itemCount() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.items)
}

func (sub *subscription) run() {
	s := sub.srv
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
				sub.publishCycle(false, time.Now())
			}
		case at := <-t.C:
			sub.publishCycle(true, at)
		}
	}
}
