package mbtest

import (
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a backend. It counts the
// connections it accepted and, with BlackHole(true), keeps accepting and
// reading but forwards nothing, so no request is ever answered (a PLC whose
// network path died while its TCP stack still answers, or a switch that
// drops packets). Closing it drops every client connection.
type Proxy struct {
	Addr string

	backend string
	tap     func(Req) // when set, the client stream is cut into MBAP frames and each is reported
	hole    atomic.Bool
	p       *peer
}

// StartProxy starts a proxy in front of backend and closes it at the end of
// the test.
func StartProxy(t testing.TB, backend string) *Proxy {
	t.Helper()
	x := newProxy(listen(t, "proxy"), backend, nil)
	t.Cleanup(x.Close)
	return x
}

func newProxy(l net.Listener, backend string, tap func(Req)) *Proxy {
	x := &Proxy{Addr: l.Addr().String(), backend: backend, tap: tap}
	x.p = newPeer(l, x.serve)
	return x
}

// BlackHole switches swallowing on or off. It applies to open connections
// at once.
func (x *Proxy) BlackHole(on bool) { x.hole.Store(on) }

// Accepted is the number of client connections accepted so far.
func (x *Proxy) Accepted() int64 { return x.p.accepted.Load() }

// Close stops accepting and drops every connection. Idempotent.
func (x *Proxy) Close() { x.p.close() }

func (x *Proxy) serve(p *peer, c net.Conn) {
	b, err := net.Dial("tcp", x.backend)
	if err != nil {
		return
	}
	if !p.track(b) {
		return
	}
	defer b.Close()
	p.spawn(func() {
		_, _ = io.Copy(c, b)
		_ = c.Close()
	})
	if x.tap != nil {
		x.frames(c, b)
		return
	}
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if n > 0 && !x.hole.Load() {
			if _, werr := b.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// frames forwards the client's requests frame by frame and reports each one
// with its real function code (the library's handler cannot tell FC5 from
// FC15 or FC6 from FC16).
func (x *Proxy) frames(c, b net.Conn) {
	hdr := make([]byte, 7)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[4:6])) - 1
		if n < 1 || n > 253 {
			return
		}
		pdu := make([]byte, n)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return
		}
		if x.hole.Load() {
			continue
		}
		r := Req{Unit: hdr[6], FC: pdu[0]}
		if len(pdu) >= 5 {
			r.Addr = binary.BigEndian.Uint16(pdu[1:3])
			r.Count = binary.BigEndian.Uint16(pdu[3:5])
			if r.FC == 5 || r.FC == 6 {
				r.Count = 1
			}
		}
		x.tap(r)
		if _, err := b.Write(append(hdr, pdu...)); err != nil {
			return
		}
	}
}
