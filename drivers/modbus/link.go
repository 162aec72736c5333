package modbus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"time"
)

// link is one physical connection (a socket or a serial port) speaking one
// Modbus framing. It is used only from its arbiter's goroutine, so
// implementations need no locking, and the unit id passed with each call is
// the one on the wire for that call (never a shared "current unit" that
// another device could change in between).
//
// Errors are normalised: an Exception when the device answered with one,
// errTimeout, errFrame or errRequest (wrapped) for those cases, and anything
// else means the connection is unusable.
//
// ctx is checked before the request goes on the wire; the libraries bound a
// transaction by the link's timeout, not by ctx.
type link interface {
	open(ctx context.Context) error
	close() error
	// readRegisters reads qty registers with fc 3 or 4.
	readRegisters(ctx context.Context, unit, fc uint8, addr, qty uint16) ([]uint16, error)
	// readBits reads qty coils or discrete inputs with fc 1 or 2.
	readBits(ctx context.Context, unit, fc uint8, addr, qty uint16) ([]bool, error)
	// writeRegisters writes with fc 6 (one register) or 16.
	writeRegisters(ctx context.Context, unit, fc uint8, addr uint16, values []uint16) error
	// writeBits writes with fc 5 (one coil) or 15.
	writeBits(ctx context.Context, unit, fc uint8, addr uint16, values []bool) error
}

// linkConfig is what a link needs to open. Devices sharing a link must agree
// on everything but the timeout (the arbiter uses the longest).
type linkConfig struct {
	transport string
	address   string
	serial    serialSettings
	timeout   time.Duration
	tlsCert   *tls.Certificate
	tlsCAs    *x509.CertPool
}

// stream reports whether the link is a byte stream where one malformed
// frame can leave the reader out of step with the frames that follow
// (TCP, TLS, RTU over TCP): such a link is reopened after a bad frame.
func (c linkConfig) stream() bool {
	return c.transport == TransportTCP || c.transport == TransportTLS || c.transport == TransportRTUOverTCP
}

// newLink builds the link for c.transport: goburrow/modbus for ASCII (the
// only served library with ASCII framing), simonvetter/modbus for the rest.
func newLink(c linkConfig) link {
	if c.transport == TransportASCII {
		return newASCIILink(c)
	}
	return newSVLink(c)
}

// checkCtx refuses to put a request on the wire for a caller that has gone.
func checkCtx(ctx context.Context) error {
	return ctx.Err()
}

func wordsFromBytes(b []byte) []uint16 {
	w := make([]uint16, len(b)/2)
	for i := range w {
		w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return w
}

func bitsFromBytes(b []byte, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		if i/8 < len(b) {
			out[i] = b[i/8]>>(uint(i)%8)&1 == 1
		}
	}
	return out
}

func bytesFromBits(v []bool) []byte {
	b := make([]byte, (len(v)+7)/8)
	for i, on := range v {
		if on {
			b[i/8] |= 1 << (uint(i) % 8)
		}
	}
	return b
}

func bytesFromWords(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, w := range v {
		b[2*i], b[2*i+1] = byte(w>>8), byte(w)
	}
	return b
}
