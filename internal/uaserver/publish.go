package uaserver

import (
	"time"

	"github.com/gopcua/opcua/ua"
)

// maxStatusNotes bounds the status changes a session keeps for Publish
// requests that have not arrived yet.
const maxStatusNotes = 64

// statusNote is a StatusChangeNotification waiting for a Publish request
// of its session: GoodSubscriptionTransferred to the session a
// subscription left, BadTimeout when a subscription's lifetime expired.
type statusNote struct {
	subID  uint32
	seq    uint32
	status ua.StatusCode
}

// publish queues the request; a subscription answers it when it has
// notifications or a keep-alive is due. A pending status change is
// answered at once.
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
	if len(sess.status) > 0 {
		n := sess.status[0]
		sess.status = sess.status[1:]
		sess.mu.Unlock()
		return statusResponse(r, acks, n)
	}
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

// queueStatus answers a queued Publish request of the session with a
// status change, or keeps it for the next Publish request.
func (sess *session) queueStatus(n *statusNote) {
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return
	}
	p := sess.takePublishLocked()
	if p == nil {
		sess.status = append(sess.status, n)
		if len(sess.status) > maxStatusNotes {
			sess.status = sess.status[1:]
		}
	}
	sess.mu.Unlock()
	if p != nil {
		p.ch.send(p.reqID, statusResponse(p.req, p.acks, n))
	}
}

func statusResponse(r *ua.PublishRequest, acks []ua.StatusCode, n *statusNote) *ua.PublishResponse {
	return &ua.PublishResponse{
		ResponseHeader: respHeader(r, ua.StatusOK), SubscriptionID: n.subID, AvailableSequenceNumbers: []uint32{},
		NotificationMessage: &ua.NotificationMessage{
			SequenceNumber: n.seq, PublishTime: time.Now(),
			NotificationData: []*ua.ExtensionObject{ua.NewExtensionObject(&ua.StatusChangeNotification{
				Status: n.status, DiagnosticInfo: &ua.DiagnosticInfo{},
			})},
		},
		Results: acks,
	}
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
	return sess.takePublishLocked()
}

func (sess *session) takePublishLocked() *pendingPublish {
	for len(sess.pubq) > 0 {
		p := sess.pubq[0]
		sess.pubq[0] = nil
		sess.pubq = sess.pubq[1:]
		if !p.ch.isClosed() {
			return p
		}
	}
	return nil
}

// expire ends a subscription whose lifetime ran out without Publish
// requests (Part 4, 5.13.1.1) and tells the session's next Publish so.
func (sess *session) expire(sub *subscription) {
	sess.mu.Lock()
	mine := sess.subs[sub.id] == sub
	if mine {
		delete(sess.subs, sub.id)
	}
	sess.mu.Unlock()
	if !mine {
		return // transferred or deleted meanwhile
	}
	sess.srv.log.Info("opcua: subscription expired (no publish requests)", "id", sub.id, "session", sess.name)
	sub.mu.Lock()
	seq := sub.seq
	sub.mu.Unlock()
	sub.stop()
	sess.queueStatus(&statusNote{subID: sub.id, seq: seq, status: ua.StatusBadTimeout})
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

// publishCycle samples changes and, when there is something to say (data or
// a due keep-alive), answers one queued Publish request (more while the
// message overflows MaxNotificationsPerPublish or the client's message
// size). start is when the cycle was due: the publishing timer's tick, or
// the arrival of a Publish request.
func (sub *subscription) publishCycle(tick bool, start time.Time) {
	sess, s := sub.session(), sub.srv
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
		sess = sub.session() // a transfer moves it to another session's requests
		p := sess.takePublish()
		if p == nil {
			sub.mu.Lock()
			if tick {
				sub.lifeCount++
			}
			expired := sub.lifeCount >= sub.lifetime
			sub.mu.Unlock()
			if expired {
				sess.expire(sub)
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
		if s.publishHook != nil {
			s.publishHook(start, time.Now(), n)
		}
		if !more {
			return
		}
	}
}

// messageLocked builds the Publish response: a data change message or a
// keep-alive (which carries the next sequence number without using it).
// Notifications are added while the response stays within the client's
// message size and MaxNotificationsPerPublish; the rest waits for the next
// Publish request (MoreNotifications). Only the ready list is visited, and
// the notifications are encoded straight into one buffer.
func (sub *subscription) messageLocked(p *pendingPublish) (*ua.PublishResponse, int, bool) {
	maxN := int(sub.maxNotif) // 0: no count limit
	budget := max(0, publishBudget(p.ch, len(p.acks), len(sub.retransmit)+1))
	var body []byte
	n, more := 0, false
	if sub.enabled && sub.trimReadyLocked() {
		body = make([]byte, 4, min(budget, 32*len(sub.ready))+8)
		now := time.Now().UnixNano()
		done := 0 // items at the head of the ready list that are drained
	items:
		for _, it := range sub.ready {
			if it.held && it.tag == nil {
				it.held = false // cannot happen (unhold); never encode without a type
			}
			for it.mode == ua.MonitoringModeReporting && it.queued() > 0 {
				if maxN > 0 && n >= maxN {
					more = true
					break items
				}
				mark := len(body)
				body = le.AppendUint32(body, it.handle)
				if it.held {
					body = appendTagValue(body, it.tag.Type, it.last, it.ts, now)
				} else {
					body = appendDataValue(body, it.queue[0])
				}
				if len(body)-4 > budget {
					body = body[:mark]
					if n > 0 {
						more = true
						break items
					}
					// This value alone exceeds what the client takes.
					sub.srv.log.Warn("opcua: value larger than the client's message limit", "subscription", sub.id, "handle", it.handle)
					body = appendDataValue(le.AppendUint32(body, it.handle), tooLargeValue())
				}
				n++
				if it.held {
					it.held = false
				} else {
					it.queue[0] = nil
					it.queue = it.queue[1:]
				}
			}
			it.ready = false
			done++
		}
		sub.dropReadyLocked(done)
	}
	msg := &ua.NotificationMessage{SequenceNumber: sub.seq, PublishTime: time.Now(), NotificationData: []*ua.ExtensionObject{}}
	if n > 0 {
		le.PutUint32(body, uint32(n))
		body = le.AppendUint32(body, 0xffffffff) // no DiagnosticInfos
		msg.NotificationData = []*ua.ExtensionObject{dataChangeObject(body)}
		sub.seq++
		if sub.seq == 0 {
			sub.seq = 1
		}
		sub.retransmit = append(sub.retransmit, msg)
		if len(sub.retransmit) > maxRetransmit {
			sub.retransmit[0] = nil
			sub.retransmit = sub.retransmit[1:]
		}
	}
	return &ua.PublishResponse{
		ResponseHeader: respHeader(p.req, ua.StatusOK), SubscriptionID: sub.id, AvailableSequenceNumbers: sub.availableLocked(),
		MoreNotifications: more, NotificationMessage: msg, Results: p.acks,
	}, n, more
}

func (sub *subscription) availableLocked() []uint32 {
	avail := make([]uint32, len(sub.retransmit))
	for i, m := range sub.retransmit {
		avail[i] = m.SequenceNumber
	}
	return avail
}
