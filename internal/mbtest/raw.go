package mbtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Raw is a hand-written Modbus TCP responder for FC3 whose answers the test
// can spoil. In mode "ok" it answers correctly, hr:0 going up by one on
// every read that starts at it (like a Server with CountOn); in the other
// modes it answers every request with a broken frame:
//
//	garbage          not Modbus at all
//	short            half a frame, then it hangs up
//	close            it hangs up without a word
//	wrong-tid        a reply to some other transaction
//	wrong-fc         an FC4 answer to the FC3 request
//	bad-count        a byte count that disagrees with the frame length
//	bad-length       an MBAP length field far beyond the frame
//	empty-exception  an exception function code without its code byte
//
// Any other function code is answered with exception 1 (illegal function).
type Raw struct {
	Addr string
	p    *peer

	mu      sync.Mutex
	mode    string
	counter uint16
}

// StartRaw starts a responder in mode "ok" and closes it at the end of the
// test.
func StartRaw(t testing.TB) *Raw {
	t.Helper()
	l := listen(t, "raw responder")
	r := &Raw{Addr: l.Addr().String(), mode: "ok"}
	r.p = newPeer(l, func(_ *peer, c net.Conn) { r.serve(c) })
	t.Cleanup(r.Close)
	return r
}

// SetMode switches how the following requests are answered.
func (r *Raw) SetMode(m string) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

// Accepted is the number of connections accepted so far.
func (r *Raw) Accepted() int64 { return r.p.accepted.Load() }

// Close stops accepting and drops every connection. Idempotent.
func (r *Raw) Close() { r.p.close() }

func (r *Raw) serve(c net.Conn) {
	for {
		hdr := make([]byte, 7)
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(hdr[4])<<8 | int(hdr[5]) - 1
		if n < 1 || n > 253 {
			return
		}
		pdu := make([]byte, n)
		if _, err := io.ReadFull(c, pdu); err != nil {
			return
		}
		r.mu.Lock()
		mode := r.mode
		var reply []byte
		if pdu[0] == 3 && n == 5 {
			start, qty := int(pdu[1])<<8|int(pdu[2]), int(pdu[3])<<8|int(pdu[4])
			if mode == "ok" && start == 0 {
				r.counter++
			}
			regs := make([]byte, 2*qty)
			if start == 0 && qty > 0 {
				regs[0], regs[1] = byte(r.counter>>8), byte(r.counter)
			}
			reply = rawReply(mode, hdr, regs)
		} else {
			reply = mbapFrame(hdr, []byte{pdu[0] | 0x80, 1}) // illegal function
		}
		r.mu.Unlock()
		switch {
		case reply == nil: // "close": hang up without a word
			return
		case mode == "short":
			_, _ = c.Write(reply)
			return // closes mid-response
		default:
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	}
}

// mbapFrame builds an MBAP frame with the request's transaction and unit id.
func mbapFrame(req []byte, pdu []byte) []byte {
	f := []byte{req[0], req[1], 0, 0, byte((len(pdu) + 1) >> 8), byte(len(pdu) + 1), req[6]}
	return append(f, pdu...)
}

// rawReply is the answer to an FC3 read of regs in each mode.
func rawReply(mode string, req, regs []byte) []byte {
	good := mbapFrame(req, append([]byte{3, byte(len(regs))}, regs...))
	switch mode {
	case "garbage":
		return []byte("HTTP/1.1 400 Bad Request\r\n\r\n")
	case "short": // the header promises more than is sent
		return good[:len(good)/2]
	case "close":
		return nil
	case "wrong-tid":
		good[0] ^= 0x55
		return good
	case "wrong-fc":
		good[7] = 4
		return good
	case "bad-count":
		good[8] += 4
		return good
	case "bad-length":
		good[4], good[5] = 0xff, 0xff
		return good
	case "empty-exception":
		return mbapFrame(req, []byte{0x83})
	}
	return good
}
