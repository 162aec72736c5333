package mbtest

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// proxy sits in front of the server and logs every request frame with its
// real function code (the library's handler cannot tell FC5 from FC15 or
// FC6 from FC16). Closing it drops every client connection.
type proxy struct {
	l     net.Listener
	s     *Server
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newProxy(l net.Listener, s *Server) *proxy {
	p := &proxy{l: l, s: s, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	b, err := net.Dial("tcp", p.s.backend)
	if err != nil {
		return
	}
	if !p.track(b) {
		return
	}
	defer b.Close()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(c, b)
		_ = c.Close()
	}()
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
		r := Req{Unit: hdr[6], FC: pdu[0]}
		if len(pdu) >= 5 {
			r.Addr = binary.BigEndian.Uint16(pdu[1:3])
			r.Count = binary.BigEndian.Uint16(pdu[3:5])
			if r.FC == 5 || r.FC == 6 {
				r.Count = 1
			}
		}
		p.s.mu.Lock()
		p.s.reqs = append(p.s.reqs, r)
		p.s.mu.Unlock()
		if _, err := b.Write(append(hdr, pdu...)); err != nil {
			return
		}
	}
}

func (p *proxy) close() {
	_ = p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
