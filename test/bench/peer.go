package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"sync"
	"time"

	sv "github.com/simonvetter/modbus"
)

// clock is the value source every peer shares: one sequence number that
// goes up by one each period, with the time of every change, so that a
// notification carrying value seq can be matched to the moment its
// registers changed at the server.
type clock struct {
	mu      sync.RWMutex
	changes []time.Time // changes[i] = when seq became i
	stop    chan struct{}
	done    chan struct{}
}

// maxSeq bounds the clock (float32 holds every integer up to 2^24 exactly).
const maxSeq = 1 << 24

func startClock(period time.Duration) *clock {
	c := &clock{changes: []time.Time{time.Now()}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case now := <-t.C:
				c.mu.Lock()
				if len(c.changes) < maxSeq {
					c.changes = append(c.changes, now)
				}
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *clock) close() { close(c.stop); <-c.done }

// seq is the current value.
func (c *clock) seq() uint32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return uint32(len(c.changes) - 1)
}

// changed is when the value became s (false if it never was s).
func (c *clock) changed(s uint32) (time.Time, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if int(s) >= len(c.changes) {
		return time.Time{}, false
	}
	return c.changes[s], true
}

// writeEvent is one register write seen by a peer.
type writeEvent struct {
	addr  uint16
	value float32
	at    time.Time
}

// peer is one Modbus TCP server (one simulated PLC). Registers below
// writeBase read as float32(clock.seq()) in ABCD order; registers from
// writeBase on are plain memory for the write scenario. The handler records
// what the gateway asks, server side, which is the honest place to count
// requests and time scans.
type peer struct {
	name  string
	addr  string // 127.0.0.1:port
	clock *clock

	mu       sync.Mutex
	srv      *sv.ModbusServer
	requests int64
	regs     int64
	scanLog  []scanRec // one per read at address 0 (= start of a scan)
	mem      map[uint16]uint16
	writes   chan writeEvent
}

// scanRec is one scan as the peer saw it: when its first request arrived
// and how many read requests it made before the next scan started.
type scanRec struct {
	at       time.Time
	requests int
}

// writeBase is where the writable tag lives, far from the polled block so
// that it is a request of its own.
const writeBase = 60000

// maxScanTimes bounds the per-peer scan-time log.
const maxScanTimes = 1 << 20

func newPeer(name string, c *clock) *peer {
	return &peer{name: name, clock: c, mem: map[uint16]uint16{}, writes: make(chan writeEvent, 4096)}
}

// start starts the server on a free port of 127.0.0.1 (or on p.addr again
// after stop). simonvetter's server does not report the port it bound, so a
// free port is found first and taken again; a race with another process is
// retried.
func (p *peer) start() error {
	var err error
	for range 50 {
		addr := p.addr
		if addr == "" {
			if addr, err = freeAddr(); err != nil {
				continue
			}
		}
		var srv *sv.ModbusServer
		srv, err = sv.NewServer(&sv.ServerConfiguration{
			URL: "tcp://" + addr, Timeout: 10 * time.Minute, MaxClients: 64,
			Logger: log.New(io.Discard, "", 0),
		}, (*handler)(p))
		if err != nil {
			return fmt.Errorf("peer %s: %w", p.name, err)
		}
		if err = srv.Start(); err == nil {
			p.mu.Lock()
			p.srv, p.addr = srv, addr
			p.mu.Unlock()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("peer %s: listen: %w", p.name, err)
}

// stop closes the listener and every client connection (a PLC power cut).
func (p *peer) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Stop()
	}
}

// counters returns requests and registers read so far.
func (p *peer) counters() (requests, regs int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.regs
}

// scansBetween returns the scans that started in [from, to).
func (p *peer) scansBetween(from, to time.Time) []scanRec {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []scanRec
	for _, s := range p.scanLog {
		if !s.at.Before(from) && s.at.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// scanStarts returns the start times of the scans in [from, to).
func (p *peer) scanStarts(from, to time.Time) []time.Time {
	var out []time.Time
	for _, s := range p.scansBetween(from, to) {
		out = append(out, s.at)
	}
	return out
}

// lastScan is the arrival time of the newest scan (zero if none).
func (p *peer) lastScan() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.scanLog) == 0 {
		return time.Time{}
	}
	return p.scanLog[len(p.scanLog)-1].at
}

type handler peer

func (h *handler) HandleCoils(*sv.CoilsRequest) ([]bool, error) { return nil, sv.ErrIllegalFunction }
func (h *handler) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *handler) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}

func (h *handler) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	now := time.Now()
	p := (*peer)(h)
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.IsWrite {
		for i, v := range req.Args {
			p.mem[req.Addr+uint16(i)] = v
		}
		if len(req.Args) >= 2 {
			v := math.Float32frombits(uint32(req.Args[0])<<16 | uint32(req.Args[1]))
			select {
			case p.writes <- writeEvent{addr: req.Addr, value: v, at: now}:
			default: // nobody listens: drop, never block the server
			}
		}
		return nil, nil
	}
	p.requests++
	p.regs += int64(req.Quantity)
	if req.Addr == 0 && len(p.scanLog) < maxScanTimes {
		p.scanLog = append(p.scanLog, scanRec{at: now})
	}
	if n := len(p.scanLog); n > 0 {
		p.scanLog[n-1].requests++
	}
	out := make([]uint16, req.Quantity)
	fillRegs(out, req.Addr, p.clock.seq(), p.mem)
	return out, nil
}

// fillRegs fills out (registers from addr on) with float32(seq) in ABCD
// order below writeBase and with mem from writeBase on.
func fillRegs(out []uint16, addr uint16, seq uint32, mem map[uint16]uint16) {
	var w [4]byte
	binary.BigEndian.PutUint32(w[:], math.Float32bits(float32(seq)))
	hi, lo := binary.BigEndian.Uint16(w[:2]), binary.BigEndian.Uint16(w[2:])
	for i := range out {
		a := int(addr) + i
		switch {
		case a >= writeBase:
			out[i] = mem[uint16(a)]
		case a%2 == 0:
			out[i] = hi
		default:
			out[i] = lo
		}
	}
}

// blackHole accepts TCP connections and never answers (a PLC whose
// application hangs, or a firewall that swallows packets after the
// handshake).
type blackHole struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	times []time.Time // accept times
	done  chan struct{}
}

func startBlackHole() (*blackHole, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("black hole: %w", err)
	}
	b := &blackHole{l: l, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.times = append(b.times, time.Now())
			b.mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }() // read and forget
		}
	}()
	return b, nil
}

func (b *blackHole) addr() string { return b.l.Addr().String() }

// accepts returns when connections were accepted.
func (b *blackHole) accepts() []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.times...)
}

func (b *blackHole) close() {
	_ = b.l.Close()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
}

// freeAddr finds a free port on 127.0.0.1: listen on :0, note it, close.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
