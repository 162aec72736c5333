package uaserver

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"
)

// Transport limits we offer in Acknowledge.
const (
	ourBufSize       = 0xffff
	ourMaxMessage    = 16 << 20
	ourMaxChunks     = 4096
	minBufSize       = 8192
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 30 * time.Second
)

// channel is one TCP connection with its secure channel. Requests are read
// and answered by one goroutine (serve); publish responses are also sent by
// subscription goroutines, which uasc serialises per channel instance.
type channel struct {
	srv  *Server
	id   uint32
	tcp  *net.TCPConn
	sc   *uasc.SecureChannel
	cfg  *uasc.Config
	peer string

	// Set at the first OpenSecureChannel, before any request is handled;
	// renewals must keep them.
	policy        string
	mode          ua.MessageSecurityMode
	remoteCert    []byte // the client's certificate (chain) on a secure channel
	discoveryOnly bool   // a None channel while None is not configured

	inflight  sync.WaitGroup // requests running on workers
	workers   chan struct{}  // slots for them (maxWorkersPerChannel)
	respLimit atomic.Uint32  // the largest response the client accepts (0: no limit)
	closeOnce sync.Once
	closed    chan struct{}
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("opcua: accept", "err", err)
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		tcp, ok := conn.(*net.TCPConn)
		if !ok {
			conn.Close()
			continue
		}
		c := &channel{srv: s, tcp: tcp, peer: conn.RemoteAddr().String(), closed: make(chan struct{}), workers: make(chan struct{}, maxWorkersPerChannel)}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			conn.Close()
			return
		default:
		}
		s.nextChan++
		c.id = s.nextChan
		s.channels[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (c *channel) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.tcp.Close()
	})
}

func (c *channel) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// handshake reads Hello and answers Acknowledge with buffer sizes that both
// sides can honour (Part 6, 7.1.2.3). It runs in the channel's goroutine so
// a silent client never blocks the accept loop.
func (c *channel) handshake() (*uacp.Conn, error) {
	c.tcp.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.tcp.SetDeadline(time.Time{})
	var h [8]byte
	if _, err := io.ReadFull(c.tcp, h[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(h[4:])
	if string(h[:4]) != "HELF" {
		c.sendTCPError(ua.StatusBadTCPMessageTypeInvalid)
		return nil, errors.New("first message is not HEL")
	}
	if size < 8+20 || size > 8+20+4096 {
		c.sendTCPError(ua.StatusBadTCPMessageTooLarge)
		return nil, errors.New("bad HEL size")
	}
	body := make([]byte, size-8)
	if _, err := io.ReadFull(c.tcp, body); err != nil {
		return nil, err
	}
	hel := new(uacp.Hello)
	if _, err := hel.Decode(body); err != nil {
		c.sendTCPError(ua.StatusBadTCPInternalError)
		return nil, err
	}
	if hel.ReceiveBufSize < minBufSize || hel.SendBufSize < minBufSize {
		c.sendTCPError(ua.StatusBadTCPInternalError)
		return nil, errors.New("client buffers below 8192 bytes")
	}
	c.setRespLimit(hel)
	ack := &uacp.Acknowledge{
		ReceiveBufSize: min(ourBufSize, hel.SendBufSize),
		SendBufSize:    min(ourBufSize, hel.ReceiveBufSize),
		MaxMessageSize: ourMaxMessage,
		MaxChunkCount:  ourMaxChunks,
	}
	conn, err := uacp.NewConn(c.tcp, ack)
	if err != nil {
		return nil, err
	}
	if err := conn.Send("ACKF", ack); err != nil {
		return nil, err
	}
	return conn, nil
}

// refuse sends an ERR with the reason and lets the client read it: closing
// at once would reset the connection when the client's next request
// arrives, and the client would see only a reset instead of the status.
func (c *channel) refuse(code ua.StatusCode) {
	c.sendTCPError(code)
	c.tcp.CloseWrite()
	c.tcp.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, io.LimitReader(c.tcp, 1<<20))
}

func (c *channel) sendTCPError(code ua.StatusCode) {
	b, err := ua.Encode(&uacp.Error{ErrorCode: uint32(code)})
	if err != nil {
		return
	}
	hdr := make([]byte, 8, 8+len(b))
	copy(hdr, "ERRF")
	binary.LittleEndian.PutUint32(hdr[4:], uint32(8+len(b)))
	c.tcp.SetWriteDeadline(time.Now().Add(time.Second))
	c.tcp.Write(append(hdr, b...))
}

func (c *channel) serve() {
	s := c.srv
	ctx, cancel := context.WithCancel(context.Background())
	var watch sync.WaitGroup
	defer func() {
		cancel()
		c.close()
		watch.Wait()
		c.inflight.Wait() // their ctx is cancelled: device writes and login delays end
		if c.sc != nil {
			c.sc.Close() // after the TCP close: stops uasc's token expiry goroutine without a round trip
		}
		s.sessions.channelClosed(c)
		s.mu.Lock()
		delete(s.channels, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	watch.Add(1)
	go func() { // cancel in-flight handlers (device writes) when the server closes
		select {
		case <-s.done:
			c.close()
		case <-c.closed:
		}
		cancel()
		watch.Done()
	}()

	conn, err := c.handshake()
	if err != nil {
		s.log.Debug("opcua: handshake failed", "peer", c.peer, "err", err)
		return
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	c.cfg = &uasc.Config{SecurityPolicyURI: ua.SecurityPolicyURINone, SecurityMode: ua.MessageSecurityModeNone,
		Certificate: s.sec.cert(), LocalKey: s.sec.key()}
	errch := make(chan error, 1)
	c.sc, err = uasc.NewServerSecureChannel(s.EndpointURL(), conn, c.cfg, errch,
		c.id|uint32(rnd[0])<<24, binary.LittleEndian.Uint32(rnd[1:5])%1023+1, binary.LittleEndian.Uint32(rnd[4:8])|1)
	if err != nil {
		s.log.Warn("opcua: secure channel", "peer", c.peer, "err", err)
		return
	}
	opened := false
	for {
		msg, perr := c.receive(ctx)
		if perr != nil {
			s.nPanic.Add(1)
			s.log.Error("opcua: panic while decoding a message; channel closed", "peer", c.peer, "panic", perr)
			c.sendTCPError(ua.StatusBadDecodingError)
			return
		}
		if msg.Err != nil {
			if c.isClosed() || errors.Is(msg.Err, io.EOF) {
				return
			}
			if opened && msg.RequestID != 0 {
				// A well-framed message whose body we cannot decode (unknown
				// service, truncated body): answer it and keep the channel.
				sc := ua.StatusBadDecodingError
				errors.As(msg.Err, &sc)
				c.send(msg.RequestID, &ua.ServiceFault{ResponseHeader: respHeader(nil, sc)})
				continue
			}
			s.log.Debug("opcua: channel closed on a bad message", "peer", c.peer, "err", msg.Err)
			c.sendTCPError(ua.StatusBadDecodingError)
			return
		}
		req := msg.Request()
		if req == nil {
			if msg.Response() != nil {
				return
			}
			// OpenSecureChannel (issue or renew), already answered by uasc:
			// a policy, mode or certificate we do not accept ends the
			// channel before any service runs.
			if st := c.checkOpen(opened); st != ua.StatusOK {
				c.refuse(st)
				return
			}
			opened = true
			continue
		}
		if !opened {
			c.sendTCPError(ua.StatusBadSecureChannelIDInvalid)
			return
		}
		s.nReq.Add(1)
		c.run(ctx, msg.RequestID, req)
	}
}

// checkOpen checks an OpenSecureChannel that uasc accepted: the policy and
// mode must be configured, the client certificate trusted (pki decides:
// trusted/, rejected/, auto_trust), and a renewal must keep all three.
func (c *channel) checkOpen(renew bool) ua.StatusCode {
	s := c.srv
	policy, mode := c.cfg.SecurityPolicyURI, c.cfg.SecurityMode
	if renew {
		if policy != c.policy || mode != c.mode || (policy != ua.SecurityPolicyURINone && !sameLeaf(c.cfg.RemoteCertificate, c.remoteCert)) {
			s.log.Warn("opcua: secure channel renewal changed its security; channel closed", "peer", c.peer)
			return ua.StatusBadSecurityPolicyRejected
		}
		return ua.StatusOK
	}
	c.policy, c.mode = policy, mode
	if !s.sec.offers(policy, mode) {
		if policy == ua.SecurityPolicyURINone && mode == ua.MessageSecurityModeNone {
			// Clients discover the endpoints over None before they open a
			// secure channel (Part 4, 5.4): without a None endpoint such a
			// channel serves GetEndpoints and FindServers only.
			c.discoveryOnly = true
			return ua.StatusOK
		}
		s.log.Warn("opcua: secure channel refused: policy or mode not configured", "peer", c.peer, "policy", policy, "mode", mode)
		return ua.StatusBadSecurityPolicyRejected
	}
	if policy == ua.SecurityPolicyURINone {
		return ua.StatusOK
	}
	c.remoteCert = append([]byte(nil), c.cfg.RemoteCertificate...)
	if st := s.sec.store.Verify(c.remoteCert, "", s.sec.autoTrust); st != ua.StatusOK {
		return st // Verify logged why
	}
	return ua.StatusOK
}

// policyURI is the channel's security policy ("" before it is open).
func (c *channel) policyURI() string { return c.policy }

func (c *channel) secure() bool {
	return c.policy != "" && c.policy != ua.SecurityPolicyURINone
}

// receive wraps uasc's Receive: a panic in the codec on hostile input must
// cost only this connection.
func (c *channel) receive(ctx context.Context) (msg *uasc.MessageBody, perr any) {
	defer func() {
		if r := recover(); r != nil {
			perr = r
		}
	}()
	return c.sc.Receive(ctx), nil
}

// send writes one response. Errors close the channel: the client is gone
// or too slow to read.
func (c *channel) send(reqID uint32, resp ua.Response) bool {
	defer func() {
		if r := recover(); r != nil {
			c.srv.nPanic.Add(1)
			c.srv.log.Error("opcua: panic while encoding a response", "peer", c.peer, "type", typeName(resp), "panic", r)
			c.close()
		}
	}()
	if c.isClosed() || c.sc == nil {
		return false
	}
	if c.tooLarge(resp) {
		c.srv.log.Warn("opcua: response larger than the client accepts", "peer", c.peer, "type", typeName(resp))
		h := respHeader(nil, ua.StatusBadResponseTooLarge)
		h.RequestHandle = resp.Header().RequestHandle
		resp = &ua.ServiceFault{ResponseHeader: h}
	}
	c.tcp.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.sc.SendResponseWithContext(context.Background(), reqID, resp); err != nil {
		c.srv.log.Debug("opcua: send failed; channel closed", "peer", c.peer, "err", err)
		c.close()
		return false
	}
	return true
}
