package mbtest

import (
	"io"
	"net"
	"testing"
)

// BlackHole is a TCP listener on 127.0.0.1 that accepts connections, reads
// and drops every byte, and never answers (a device that hangs).
type BlackHole struct {
	Addr string
	p    *peer
}

// StartBlackHole starts a black hole and closes it at the end of the test.
func StartBlackHole(t testing.TB) *BlackHole {
	t.Helper()
	l := listen(t, "black hole")
	b := &BlackHole{Addr: l.Addr().String()}
	b.p = newPeer(l, func(_ *peer, c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	t.Cleanup(b.Close)
	return b
}

// Close stops the listener and closes the connections. Idempotent.
func (b *BlackHole) Close() { b.p.close() }
