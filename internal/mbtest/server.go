package mbtest

import (
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	sv "github.com/simonvetter/modbus"
)

// Req is one request the server saw.
type Req struct {
	Unit  uint8
	FC    uint8
	Addr  uint16
	Count uint16
}

// Server is a Modbus TCP server on 127.0.0.1 holding one memory per unit id
// (every unit id answers; a unit never written reads zeros).
type Server struct {
	Addr string // host:port the driver connects to (a logging proxy)

	backend string // the simonvetter server's own address
	front   *Proxy

	mu      sync.Mutex
	hr, ir  map[uint8]*[65536]uint16
	co, di  map[uint8]*[65536]bool
	illegal map[uint16]bool  // hr/ir addresses that answer exception 2
	fail    map[uint16]error // hr/ir addresses that answer this error (a modbus exception)
	delay   time.Duration
	count   map[unitAddr]bool // holding registers that go up by one on every read starting at them
	reads   uint64            // holding-register reads answered
	reqs    []Req
	busy    int // requests being handled now
	maxBusy int
	srv     *sv.ModbusServer
}

// Start starts a server on a free port of 127.0.0.1 and stops it at the end
// of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		hr: map[uint8]*[65536]uint16{}, ir: map[uint8]*[65536]uint16{},
		co: map[uint8]*[65536]bool{}, di: map[uint8]*[65536]bool{},
		illegal: map[uint16]bool{}, fail: map[uint16]error{},
		count: map[unitAddr]bool{},
	}
	var err error
	for range 5 {
		if s.backend, err = freeAddr(); err != nil {
			continue
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("mbtest: start server: %v", err)
	}
	l := listen(t, "start proxy")
	s.Addr = l.Addr().String()
	s.front = newProxy(l, s.backend, s.logReq)
	t.Cleanup(s.Stop)
	return s
}

// freeAddr finds a free port: listen on :0, note the port, close. Start
// retries when another process takes it in between.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// unitAddr names one register of one unit.
type unitAddr struct {
	unit uint8
	addr uint16
}

// logReq records a request the proxy saw on the wire.
func (s *Server) logReq(r Req) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

func (s *Server) start() error {
	srv, err := sv.NewServer(&sv.ServerConfiguration{
		URL: "tcp://" + s.backend, Timeout: 30 * time.Second, MaxClients: 32,
		Logger: log.New(io.Discard, "", 0),
	}, (*handler)(s))
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	return nil
}

// Stop stops the server and closes every client connection (a PLC going
// down). The memory is kept for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, front := s.srv, s.front
	s.srv, s.front = nil, nil
	s.mu.Unlock()
	if front != nil {
		front.Close()
	}
	if srv != nil {
		_ = srv.Stop()
	}
}

// Restart starts the server again on the same address (a PLC coming back),
// retrying for a while when the port lingers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for range 50 {
		if err = s.Resume(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mbtest: restart server on %s: %v", s.Addr, err)
}

// Resume is one attempt of Restart: it starts whichever of the server and
// its proxy is not running, on their old addresses, so calling it again
// after an error is fine.
func (s *Server) Resume() error {
	s.mu.Lock()
	up := s.srv != nil
	s.mu.Unlock()
	if !up {
		if err := s.start(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	up = s.front != nil
	s.mu.Unlock()
	if up {
		return nil
	}
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	p := newProxy(l, s.backend, s.logReq)
	s.mu.Lock()
	s.front = p
	s.mu.Unlock()
	return nil
}

func (s *Server) regs(m map[uint8]*[65536]uint16, unit uint8) *[65536]uint16 {
	r := m[unit]
	if r == nil {
		r = new([65536]uint16)
		m[unit] = r
	}
	return r
}

func (s *Server) bits(m map[uint8]*[65536]bool, unit uint8) *[65536]bool {
	r := m[unit]
	if r == nil {
		r = new([65536]bool)
		m[unit] = r
	}
	return r
}

// SetHR sets holding registers from addr on.
func (s *Server) SetHR(unit uint8, addr uint16, v ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.regs(s.hr, unit)[addr:], v)
}

// SetIR sets input registers from addr on.
func (s *Server) SetIR(unit uint8, addr uint16, v ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.regs(s.ir, unit)[addr:], v)
}

// SetCoils sets coils from addr on.
func (s *Server) SetCoils(unit uint8, addr uint16, v ...bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.bits(s.co, unit)[addr:], v)
}

// SetDI sets discrete inputs from addr on.
func (s *Server) SetDI(unit uint8, addr uint16, v ...bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.bits(s.di, unit)[addr:], v)
}

// HR returns n holding registers from addr.
func (s *Server) HR(unit uint8, addr uint16, n int) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint16(nil), s.regs(s.hr, unit)[addr:int(addr)+n]...)
}

// Coil returns one coil.
func (s *Server) Coil(unit uint8, addr uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bits(s.co, unit)[addr]
}

// CountOn makes holding register addr of unit go up by one on every read
// request that starts at it, before the answer, so every successful scan
// sees a new value.
func (s *Server) CountOn(unit uint8, addr uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[unitAddr{unit, addr}] = true
}

// Reads is the number of holding-register read requests answered so far
// (exceptions not counted).
func (s *Server) Reads() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Illegal makes reads and writes of registers touching addr answer
// exception 2 (illegal data address), for every unit.
func (s *Server) Illegal(addr ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addr {
		s.illegal[a] = true
	}
}

// Fail makes requests touching register addr answer err (a modbus error
// such as sv.ErrServerDeviceFailure).
func (s *Server) Fail(addr uint16, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[addr] = err
}

// SetDelay makes every answer wait d first (a slow device).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns the requests seen so far on the wire, with their real
// function codes.
func (s *Server) Requests() []Req {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Req(nil), s.reqs...)
}

// ResetRequests forgets the requests seen so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

type handler Server

// begin counts a request in flight, applies the delay and the injected
// errors. It returns with s.mu held; end releases it. (The proxy logs the
// requests: the library's handler cannot tell FC5 from FC15.)
func (h *handler) begin(addr, n uint16, regs bool) error {
	s := (*Server)(h)
	s.mu.Lock()
	s.busy++
	s.maxBusy = max(s.maxBusy, s.busy)
	d := s.delay
	if d > 0 {
		s.mu.Unlock()
		time.Sleep(d)
		s.mu.Lock()
	}
	if !regs {
		return nil
	}
	for a := int(addr); a < int(addr)+int(n); a++ {
		if s.illegal[uint16(a)] {
			return sv.ErrIllegalDataAddress
		}
		if err := s.fail[uint16(a)]; err != nil {
			return err
		}
	}
	return nil
}

// end finishes a request begun with begin (s.mu held).
func (h *handler) end() {
	s := (*Server)(h)
	s.busy--
	s.mu.Unlock()
}

// MaxConcurrent is the most requests the server handled at the same time.
func (s *Server) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBusy
}

func (h *handler) HandleCoils(r *sv.CoilsRequest) ([]bool, error) {
	s := (*Server)(h)
	err := h.begin(r.Addr, r.Quantity, false)
	defer h.end()
	if err != nil {
		return nil, err
	}
	m := s.bits(s.co, r.UnitId)
	if r.IsWrite {
		copy(m[r.Addr:], r.Args)
		return nil, nil
	}
	return append([]bool(nil), m[r.Addr:int(r.Addr)+int(r.Quantity)]...), nil
}

func (h *handler) HandleDiscreteInputs(r *sv.DiscreteInputsRequest) ([]bool, error) {
	s := (*Server)(h)
	err := h.begin(r.Addr, r.Quantity, false)
	defer h.end()
	if err != nil {
		return nil, err
	}
	m := s.bits(s.di, r.UnitId)
	return append([]bool(nil), m[r.Addr:int(r.Addr)+int(r.Quantity)]...), nil
}

func (h *handler) HandleHoldingRegisters(r *sv.HoldingRegistersRequest) ([]uint16, error) {
	s := (*Server)(h)
	err := h.begin(r.Addr, r.Quantity, true)
	defer h.end()
	if err != nil {
		return nil, err
	}
	m := s.regs(s.hr, r.UnitId)
	if r.IsWrite {
		copy(m[r.Addr:], r.Args)
		return nil, nil
	}
	s.reads++
	if s.count[unitAddr{r.UnitId, r.Addr}] {
		m[r.Addr]++
	}
	return append([]uint16(nil), m[r.Addr:int(r.Addr)+int(r.Quantity)]...), nil
}

func (h *handler) HandleInputRegisters(r *sv.InputRegistersRequest) ([]uint16, error) {
	s := (*Server)(h)
	err := h.begin(r.Addr, r.Quantity, true)
	defer h.end()
	if err != nil {
		return nil, err
	}
	m := s.regs(s.ir, r.UnitId)
	return append([]uint16(nil), m[r.Addr:int(r.Addr)+int(r.Quantity)]...), nil
}
