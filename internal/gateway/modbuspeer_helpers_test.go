package gateway

// The Modbus peers of this package's tests, all on 127.0.0.1: a PLC
// (simonvetter/modbus's TCP server) the test sets and inspects, a TCP proxy
// in front of it that counts connections and can turn into a black hole,
// and a hand-written responder whose answers the test can spoil.

import (
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sv "github.com/simonvetter/modbus"
)

// modbusPeer is a Modbus TCP server (unit 1) whose memory the test sets and
// inspects. Registers in illegal answer exception 2. With counting, hr:0 goes
// up by one on every read request that starts at it, so every successful
// scan sees a new value. It can be stopped and started again on the same
// port, as a PLC that reboots.
type modbusPeer struct {
	Addr string // host:port, the same across restarts

	counting bool          // set before Start, read-only after
	reads    atomic.Uint64 // holding-register read requests served

	mu      sync.Mutex
	hr, ir  [256]uint16
	coils   [64]bool
	illegal map[uint16]bool
	srv     *sv.ModbusServer
}

// startModbusPeer starts a peer on a free port and stops it at the end of
// the test. The library cannot listen on :0 and report the port, so the
// port comes from a :0 listener closed just before; Start is retried if
// another process took it.
func startModbusPeer(t testing.TB, counting bool) *modbusPeer {
	t.Helper()
	p := &modbusPeer{counting: counting, illegal: map[uint16]bool{}}
	var err error
	for range 5 {
		if p.Addr, err = freeAddr(); err != nil {
			continue
		}
		if err = p.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("modbus server: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start (re)starts the server on p.Addr.
func (p *modbusPeer) Start() error {
	srv, err := sv.NewServer(&sv.ServerConfiguration{
		URL: "tcp://" + p.Addr, Timeout: 30 * time.Second, MaxClients: 16,
		Logger: log.New(io.Discard, "", 0),
	}, (*modbusHandler)(p))
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	return nil
}

// Stop closes the listener and every client connection: the PLC goes away.
// Idempotent.
func (p *modbusPeer) Stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Stop()
	}
}

// Counter is the last value of hr:0 the peer handed out.
func (p *modbusPeer) Counter() uint16 { return p.HR(0, 1)[0] }

// Reads is the number of holding-register read requests served so far.
func (p *modbusPeer) Reads() uint64 { return p.reads.Load() }

// SetHR stores v from hr:addr on.
func (p *modbusPeer) SetHR(addr uint16, v ...uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	copy(p.hr[addr:], v)
}

// HR returns n registers from hr:addr on.
func (p *modbusPeer) HR(addr uint16, n int) []uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint16(nil), p.hr[addr:int(addr)+n]...)
}

// Coil returns coil:addr.
func (p *modbusPeer) Coil(addr uint16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.coils[addr]
}

type modbusHandler modbusPeer

// span checks that [addr, addr+n) is inside mem and holds no illegal
// register (exception 2 otherwise, as a real PLC answers for a hole in its
// map). It is called with mu held.
func (h *modbusHandler) span(addr, n uint16, size int, regs bool) error {
	if int(addr)+int(n) > size {
		return sv.ErrIllegalDataAddress
	}
	for a := addr; regs && a < addr+n; a++ {
		if h.illegal[a] {
			return sv.ErrIllegalDataAddress
		}
	}
	return nil
}

func (h *modbusHandler) HandleCoils(r *sv.CoilsRequest) ([]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.span(r.Addr, r.Quantity, len(h.coils), false); err != nil {
		return nil, err
	}
	if r.IsWrite {
		copy(h.coils[r.Addr:], r.Args)
		return nil, nil
	}
	return append([]bool(nil), h.coils[r.Addr:r.Addr+r.Quantity]...), nil
}

func (h *modbusHandler) HandleDiscreteInputs(r *sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

func (h *modbusHandler) HandleHoldingRegisters(r *sv.HoldingRegistersRequest) ([]uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.span(r.Addr, r.Quantity, len(h.hr), true); err != nil {
		return nil, err
	}
	if r.IsWrite {
		copy(h.hr[r.Addr:], r.Args)
		return nil, nil
	}
	h.reads.Add(1)
	if h.counting && r.Addr == 0 {
		h.hr[0]++
	}
	return append([]uint16(nil), h.hr[r.Addr:r.Addr+r.Quantity]...), nil
}

func (h *modbusHandler) HandleInputRegisters(r *sv.InputRegistersRequest) ([]uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.span(r.Addr, r.Quantity, len(h.ir), false); err != nil {
		return nil, err
	}
	return append([]uint16(nil), h.ir[r.Addr:r.Addr+r.Quantity]...), nil
}

// tcpPeer accepts connections on 127.0.0.1:0 and serves each one on its own
// goroutine until Close (run at the end of the test) drops them all.
type tcpPeer struct {
	Addr string

	accepted atomic.Int64

	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// serve gets the peer too, as the caller holds it only once this returns.
func startTCPPeer(t testing.TB, what string, serve func(*tcpPeer, net.Conn)) *tcpPeer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	p := &tcpPeer{Addr: l.Addr().String(), l: l, conns: map[net.Conn]bool{}}
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
			p.Go(func() {
				defer c.Close()
				serve(p, c)
			})
		}
	}()
	t.Cleanup(p.Close)
	return p
}

// Accepted is the number of connections accepted so far.
func (p *tcpPeer) Accepted() int64 { return p.accepted.Load() }

// Go runs f on a goroutine that Close waits for.
func (p *tcpPeer) Go(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// track registers c so that Close drops it; after Close it closes c and
// returns false.
func (p *tcpPeer) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

// Close stops accepting and drops every connection.
func (p *tcpPeer) Close() {
	_ = p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// tcpProxy is a TCP proxy in front of a backend. With BlackHole(true) it
// keeps accepting and reading but forwards nothing, so no request is ever
// answered (a PLC whose network path died while its TCP stack still
// answers, or a switch that drops packets).
type tcpProxy struct {
	*tcpPeer
	hole atomic.Bool
}

func startProxy(t testing.TB, backend string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{}
	p.tcpPeer = startTCPPeer(t, "proxy", func(tp *tcpPeer, c net.Conn) { p.serve(tp, c, backend) })
	return p
}

// BlackHole switches swallowing on or off. It applies to open connections
// at once.
func (p *tcpProxy) BlackHole(on bool) { p.hole.Store(on) }

func (p *tcpProxy) serve(tp *tcpPeer, c net.Conn, backend string) {
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	if !tp.track(b) {
		return
	}
	defer b.Close()
	tp.Go(func() {
		_, _ = io.Copy(c, b)
		_ = c.Close()
	})
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if n > 0 && !p.hole.Load() {
			if _, werr := b.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// rawModbusPeer is a hand-written Modbus TCP responder for FC3 whose answers
// the test can spoil: in mode "ok" it answers correctly (hr:0 counts the
// reads, like a counting modbusPeer); in the other modes it answers every
// request with a broken frame (see rawReply).
type rawModbusPeer struct {
	*tcpPeer

	mu      sync.Mutex
	mode    string
	counter uint16
}

func startRawModbusPeer(t testing.TB) *rawModbusPeer {
	t.Helper()
	p := &rawModbusPeer{mode: "ok"}
	p.tcpPeer = startTCPPeer(t, "raw peer", func(_ *tcpPeer, c net.Conn) { p.serve(c) })
	return p
}

// SetMode switches how the following requests are answered.
func (p *rawModbusPeer) SetMode(m string) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

func (p *rawModbusPeer) serve(c net.Conn) {
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
		p.mu.Lock()
		mode := p.mode
		var reply []byte
		if pdu[0] == 3 && n == 5 {
			start, qty := int(pdu[1])<<8|int(pdu[2]), int(pdu[3])<<8|int(pdu[4])
			if mode == "ok" && start == 0 {
				p.counter++
			}
			regs := make([]byte, 2*qty)
			if start == 0 && qty > 0 {
				regs[0], regs[1] = byte(p.counter>>8), byte(p.counter)
			}
			reply = rawReply(mode, hdr, regs)
		} else {
			reply = mbapFrame(hdr, []byte{pdu[0] | 0x80, 1}) // illegal function
		}
		p.mu.Unlock()
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
	case "garbage": // not Modbus at all
		return []byte("HTTP/1.1 400 Bad Request\r\n\r\n")
	case "short": // the header promises more than is sent, then the peer closes
		return good[:len(good)/2]
	case "close":
		return nil
	case "wrong-tid": // a reply to some other request
		good[0] ^= 0x55
		return good
	case "wrong-fc": // FC4 answer to an FC3 request
		good[7] = 4
		return good
	case "bad-count": // byte count disagrees with the frame length
		good[8] += 4
		return good
	case "bad-length": // MBAP length field far beyond the frame
		good[4], good[5] = 0xff, 0xff
		return good
	case "empty-exception": // exception function code without its code byte
		return mbapFrame(req, []byte{0x83})
	}
	return good
}
