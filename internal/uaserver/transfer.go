package uaserver

import (
	"github.com/gopcua/opcua/ua"
)

// transferSubscriptions moves subscriptions of another session to sess
// (Part 4, 5.13.7): a client that lost its session creates a new one and
// takes its subscriptions along, with their items, queues and sequence
// numbers. Only a session of the same user may take them; the session
// they leave gets a StatusChangeNotification GoodSubscriptionTransferred.
func (s *Server) transferSubscriptions(sess *session, r *ua.TransferSubscriptionsRequest) ua.Response {
	if st := s.checkCount(len(r.SubscriptionIDs), uint32(s.lim.MaxSubscriptionsPerSession)); st != ua.StatusOK {
		return fault(r, st)
	}
	res := make([]*ua.TransferResult, len(r.SubscriptionIDs))
	for i, id := range r.SubscriptionIDs {
		st, avail := s.transferOne(sess, id, r.SendInitialValues)
		if avail == nil {
			avail = []uint32{}
		}
		res[i] = &ua.TransferResult{StatusCode: st, AvailableSequenceNumbers: avail}
	}
	return &ua.TransferSubscriptionsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}
}

func (s *Server) transferOne(to *session, id uint32, initial bool) (ua.StatusCode, []uint32) {
	from := s.sessions.ownerOf(id)
	if from == nil {
		return ua.StatusBadSubscriptionIDInvalid, nil
	}
	var sub *subscription
	st := func() ua.StatusCode {
		if from == to {
			if sub = to.sub(id); sub == nil {
				return ua.StatusBadSubscriptionIDInvalid
			}
			return ua.StatusOK
		}
		// Two session locks at once only here, under transferMu: no
		// other path holds two, so the order cannot deadlock.
		s.sessions.transferMu.Lock()
		defer s.sessions.transferMu.Unlock()
		from.mu.Lock()
		defer from.mu.Unlock()
		to.mu.Lock()
		defer to.mu.Unlock()
		if sub = from.subs[id]; sub == nil {
			return ua.StatusBadSubscriptionIDInvalid
		}
		if !sameIdentity(from, to) {
			return ua.StatusBadUserAccessDenied
		}
		if to.closed {
			return ua.StatusBadSessionClosed
		}
		if len(to.subs) >= s.lim.MaxSubscriptionsPerSession {
			return ua.StatusBadTooManySubscriptions
		}
		delete(from.subs, id)
		to.subs[id] = sub
		sub.owner.Store(to)
		return ua.StatusOK
	}()
	if st != ua.StatusOK {
		if st == ua.StatusBadUserAccessDenied {
			s.log.Warn("opcua: subscription transfer refused: another user", "id", id,
				"from", from.name, "to", to.name)
		}
		return st, nil
	}
	sub.mu.Lock()
	seq := sub.seq
	avail := sub.availableLocked()
	sub.lifeCount = 0
	if initial {
		// The current value of every reporting item (Part 4, 5.13.7.2).
		for _, it := range sub.items {
			if it.entry != nil && it.mode == ua.MonitoringModeReporting {
				sub.takeSample(it, it.entry.Load(), true)
			}
		}
	}
	sub.mu.Unlock()
	if from != to {
		s.log.Info("opcua: subscription transferred", "id", id, "from", from.name, "to", to.name, "user", userLabel(to.userName()))
		from.queueStatus(&statusNote{subID: id, seq: seq, status: ua.StatusGoodSubscriptionTransferred})
		from.answerIfNoSubscriptions()
	}
	select {
	case sub.nudge <- struct{}{}:
	default:
	}
	return ua.StatusOK, avail
}

// sameIdentity tells whether b acts for the same user as a (both locked):
// the same configured user, however each logged in; anonymous sessions
// only when both come from the same client application certificate, so
// an anonymous client on a None channel cannot take over another client's
// subscriptions by guessing ids.
func sameIdentity(a, b *session) bool {
	if !a.activated || !b.activated || a.user != b.user {
		return false
	}
	if a.user != "" {
		return true
	}
	return len(a.clientCert) > 0 && sameLeaf(a.clientCert, b.clientCert)
}

func (sess *session) userName() string {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.user
}

// ownerOf finds the session that owns subscription id.
func (ss *sessions) ownerOf(id uint32) *session {
	for _, sess := range ss.all() {
		sess.mu.Lock()
		_, ok := sess.subs[id]
		sess.mu.Unlock()
		if ok {
			return sess
		}
	}
	return nil
}
