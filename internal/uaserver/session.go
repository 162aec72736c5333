package uaserver

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"
)

const (
	minSessionTimeout = 10 * time.Second
	maxSessionTimeout = time.Hour
	defSessionTimeout = time.Minute
)

// sessions is the server's session table.
type sessions struct {
	srv     *Server
	mu      sync.Mutex
	byToken map[string]*session
	nextID  uint32
	subID   uint32 // last subscription id, server-wide (ids are never reused)
	closed  bool

	transferMu sync.Mutex // serialises TransferSubscriptions (see transfer.go)
}

// session is one client session. Its mutex guards the fields below it and
// is never held while a subscription's mutex is taken by the same
// goroutine in the other order (see subscription.go).
type session struct {
	srv     *Server
	id      *ua.NodeID
	token   *ua.NodeID
	key     string
	name    string
	timeout time.Duration

	mu         sync.Mutex
	ch         *channel
	activated  bool
	user       string // "" = anonymous
	canWrite   bool
	nonce      []byte
	clientCert []byte // from CreateSession on a secure channel
	lastSeen   time.Time
	closed     bool
	subs       map[uint32]*subscription
	cps        map[string]*continuation
	pubq       []*pendingPublish
	status     []*statusNote // status changes for the next Publish requests
}

func newSessions(s *Server) *sessions {
	var b [4]byte
	rand.Read(b[:])
	return &sessions{srv: s, byToken: map[string]*session{}, nextID: binary.LittleEndian.Uint32(b[:]) >> 8}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // the OS has no entropy: nothing sane to do
	}
	return b
}

func tokenKey(t *ua.NodeID) string {
	if t == nil {
		return ""
	}
	return t.String()
}

func (ss *sessions) create(c *channel, r *ua.CreateSessionRequest) ua.Response {
	s := ss.srv
	timeout := time.Duration(r.RequestedSessionTimeout * float64(time.Millisecond))
	switch {
	case timeout <= 0:
		timeout = defSessionTimeout
	case timeout < minSessionTimeout:
		timeout = minSessionTimeout
	case timeout > maxSessionTimeout:
		timeout = maxSessionTimeout
	}
	sig, st := ss.checkClient(c, r)
	if st != ua.StatusOK {
		return fault(r, st)
	}
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return fault(r, ua.StatusBadServerHalted)
	}
	if len(ss.byToken) >= s.lim.MaxSessions {
		ss.mu.Unlock()
		return fault(r, ua.StatusBadTooManySessions)
	}
	ss.nextID++
	sess := &session{
		srv: s, id: ua.NewNumericNodeID(nsApp, ss.nextID), token: ua.NewByteStringNodeID(0, randomBytes(32)),
		name: r.SessionName, timeout: timeout, ch: c, nonce: randomBytes(32), lastSeen: time.Now(),
		subs: map[uint32]*subscription{}, cps: map[string]*continuation{},
	}
	c.lowerRespLimit(r.MaxResponseMessageSize)
	if c.secure() {
		sess.clientCert = append([]byte(nil), r.ClientCertificate...)
	}
	sess.key = tokenKey(sess.token)
	ss.byToken[sess.key] = sess
	ss.mu.Unlock()
	s.log.Info("opcua: session created", "name", r.SessionName, "peer", c.peer, "timeout", timeout)
	return &ua.CreateSessionResponse{
		ResponseHeader: respHeader(r, ua.StatusOK), SessionID: sess.id, AuthenticationToken: sess.token,
		RevisedSessionTimeout: float64(timeout / time.Millisecond), ServerNonce: sess.nonce,
		ServerEndpoints: s.endpointsFor(r.EndpointURL), ServerSignature: sig,
		ServerCertificate: s.sec.cert(), MaxRequestMessageSize: ourMaxMessage,
	}
}

// checkClient checks CreateSession's client certificate and nonce on a
// secure channel and signs them (Part 4, 5.6.2): the certificate must be the
// channel's, and its application URI the one the client describes.
func (ss *sessions) checkClient(c *channel, r *ua.CreateSessionRequest) (*ua.SignatureData, ua.StatusCode) {
	if !c.secure() {
		return &ua.SignatureData{}, ua.StatusOK
	}
	sec := ss.srv.sec
	if len(r.ClientNonce) < 32 {
		return nil, ua.StatusBadNonceInvalid
	}
	if len(r.ClientCertificate) == 0 || !sameLeaf(r.ClientCertificate, c.remoteCert) {
		return nil, ua.StatusBadCertificateInvalid
	}
	appURI := ""
	if r.ClientDescription != nil {
		appURI = r.ClientDescription.ApplicationURI
	}
	if st := sec.store.Verify(r.ClientCertificate, appURI, sec.autoTrust); st != ua.StatusOK {
		return nil, st
	}
	sig, err := sec.serverSignature(c.policyURI(), r.ClientCertificate, r.ClientNonce)
	if err != nil {
		return nil, statusOf(err)
	}
	return sig, ua.StatusOK
}

func (ss *sessions) get(token *ua.NodeID) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.byToken[tokenKey(token)]
}

// lookup finds the activated session of a request on channel c.
func (ss *sessions) lookup(c *channel, token *ua.NodeID) (*session, ua.StatusCode) {
	sess := ss.get(token)
	if sess == nil {
		return nil, ua.StatusBadSessionIDInvalid
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	switch {
	case sess.closed:
		return nil, ua.StatusBadSessionIDInvalid
	case sess.ch != c:
		return nil, ua.StatusBadSecureChannelIDInvalid
	case !sess.activated:
		return nil, ua.StatusBadSessionNotActivated
	}
	sess.lastSeen = time.Now()
	return sess, ua.StatusOK
}

func (ss *sessions) activate(ctx context.Context, c *channel, r *ua.ActivateSessionRequest) ua.Response {
	s := ss.srv
	sess := ss.get(r.RequestHeader.AuthenticationToken)
	if sess == nil {
		return fault(r, ua.StatusBadSessionIDInvalid)
	}
	sess.mu.Lock()
	nonce, clientCert := sess.nonce, sess.clientCert
	sess.mu.Unlock()
	if c.secure() {
		// The client proves it holds the key of the certificate it
		// created the session with (Part 4, 5.6.3).
		if len(clientCert) == 0 || !sameLeaf(clientCert, c.remoteCert) {
			return fault(r, ua.StatusBadApplicationSignatureInvalid)
		}
		if st := s.sec.verifyClientSignature(c.policyURI(), c.remoteCert, nonce, r.ClientSignature); st != ua.StatusOK {
			s.log.Warn("opcua: session activation refused: bad client signature", "peer", c.peer, "status", st)
			return fault(r, st)
		}
	}
	id, st := s.identify(ctx, c, r, nonce)
	if st != ua.StatusOK {
		s.log.Warn("opcua: login refused", "peer", c.peer, "user", id.user, "status", st)
		return fault(r, st)
	}
	user, canWrite := id.user, id.role.CanWrite()
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.closed {
		return fault(r, ua.StatusBadSessionIDInvalid)
	}
	if sess.ch != c {
		// Transfer to a new channel: only for the same identity (Part 4, 5.6.3).
		if !sess.activated || sess.user != user {
			return fault(r, ua.StatusBadIdentityChangeNotSupported)
		}
		sess.ch = c
		sess.dropPublishLocked()
	}
	sess.activated, sess.user, sess.canWrite = true, user, canWrite
	sess.nonce = randomBytes(32)
	sess.lastSeen = time.Now()
	s.log.Info("opcua: session activated", "name", sess.name, "peer", c.peer, "user", userLabel(user), "x509", id.x509, "write", canWrite)
	return &ua.ActivateSessionResponse{ResponseHeader: respHeader(r, ua.StatusOK), ServerNonce: sess.nonce}
}

func (ss *sessions) closeReq(c *channel, r *ua.CloseSessionRequest) ua.Response {
	sess := ss.get(r.RequestHeader.AuthenticationToken)
	if sess == nil {
		return fault(r, ua.StatusBadSessionIDInvalid)
	}
	sess.mu.Lock()
	other := sess.ch != c
	sess.mu.Unlock()
	if other {
		return fault(r, ua.StatusBadSecureChannelIDInvalid)
	}
	ss.remove(sess, "closed by client")
	return &ua.CloseSessionResponse{ResponseHeader: respHeader(r, ua.StatusOK)}
}

// remove ends a session: its subscriptions stop and unwatch their entries
// (Unwatch only takes the entry's watcher lock, never waits on the poller).
func (ss *sessions) remove(sess *session, why string) {
	ss.mu.Lock()
	delete(ss.byToken, sess.key)
	ss.mu.Unlock()
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return
	}
	sess.closed = true
	subs := sess.subs
	sess.subs = map[uint32]*subscription{}
	sess.cps = map[string]*continuation{}
	pending := sess.pubq
	sess.pubq, sess.status = nil, nil
	sess.mu.Unlock()
	for _, sub := range subs {
		sub.stop()
	}
	for _, p := range pending {
		p.ch.send(p.reqID, fault(p.req, ua.StatusBadSessionClosed))
	}
	ss.srv.log.Info("opcua: session ended", "name", sess.name, "user", userLabel(sess.user), "why", why)
}

// channelClosed detaches sessions from a closed channel; they live on until
// their timeout so a client can reactivate them on a new channel.
func (ss *sessions) channelClosed(c *channel) {
	ss.mu.Lock()
	list := make([]*session, 0, len(ss.byToken))
	for _, sess := range ss.byToken {
		list = append(list, sess)
	}
	ss.mu.Unlock()
	for _, sess := range list {
		sess.mu.Lock()
		if sess.ch == c {
			sess.ch = nil
			sess.dropPublishLocked()
		}
		sess.mu.Unlock()
	}
}

func (sess *session) dropPublishLocked() { sess.pubq = nil }

func (ss *sessions) all() []*session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	list := make([]*session, 0, len(ss.byToken))
	for _, sess := range ss.byToken {
		list = append(list, sess)
	}
	return list
}

func (ss *sessions) closeAll() {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	for _, sess := range ss.all() {
		ss.remove(sess, "server closing")
	}
}

// janitor ends sessions whose client stayed silent past their timeout.
func (ss *sessions) janitor() {
	defer ss.srv.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ss.srv.done:
			return
		case now := <-t.C:
			for _, sess := range ss.all() {
				sess.mu.Lock()
				idle := now.Sub(sess.lastSeen) > sess.timeout
				sess.mu.Unlock()
				if idle {
					ss.remove(sess, "timed out")
				}
			}
		}
	}
}

func (ss *sessions) counts() (nsess, nsub, nitems int) {
	for _, sess := range ss.all() {
		nsess++
		sess.mu.Lock()
		subs := make([]*subscription, 0, len(sess.subs))
		for _, sub := range sess.subs {
			subs = append(subs, sub)
		}
		sess.mu.Unlock()
		nsub += len(subs)
		for _, sub := range subs {
			nitems += sub.itemCount()
		}
	}
	return
}

// reloaded re-points monitored items at the new address space.
func (ss *sessions) reloaded(sp *space) {
	for _, sess := range ss.all() {
		sess.mu.Lock()
		subs := make([]*subscription, 0, len(sess.subs))
		for _, sub := range sess.subs {
			subs = append(subs, sub)
		}
		sess.mu.Unlock()
		for _, sub := range subs {
			sub.reloaded(sp)
		}
	}
}
