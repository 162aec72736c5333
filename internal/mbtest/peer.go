package mbtest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// peer accepts connections on a listener and serves each one on its own
// goroutine until close drops them all. The proxy, the raw responder and
// the black hole are built on it.
type peer struct {
	l        net.Listener
	accepted atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// listen listens on 127.0.0.1:0, failing the test when it cannot.
func listen(t testing.TB, what string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mbtest: %s: %v", what, err)
	}
	return l
}

// newPeer serves every connection l accepts with serve, which gets the peer
// too (to track and run further goroutines).
func newPeer(l net.Listener, serve func(*peer, net.Conn)) *peer {
	p := &peer{l: l, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if !p.track(c) {
				continue
			}
			p.accepted.Add(1)
			p.spawn(func() {
				defer c.Close()
				serve(p, c)
			})
		}
	}()
	return p
}

// spawn runs f on a goroutine that close waits for.
func (p *peer) spawn(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// track registers c so that close drops it; after close it closes c and
// returns false.
func (p *peer) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

// close stops accepting, drops every connection and waits for the
// goroutines. Idempotent.
func (p *peer) close() {
	_ = p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
