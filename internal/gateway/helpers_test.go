package gateway

// Shared helpers for the reliability and reload tests (issue 5). Every name
// starts with "rel" so that other test files of this package can define
// their own helpers without clashing.
//
// The peers are real: simonvetter/modbus's TCP server on 127.0.0.1, a TCP
// proxy in front of it that counts connections and can turn into a black
// hole (accepts, reads, never answers), and gopcua's client.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	sv "github.com/simonvetter/modbus"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
	_ "github.com/tagbridge/tagbridge/drivers/all"
	"github.com/tagbridge/tagbridge/mapping"
)

// relServer is a Modbus TCP server on 127.0.0.1 (simonvetter/modbus).
// hr:0 is a counter that goes up by one on every read request that covers
// it, so every successful scan of a device sees a new value; hr:1.. hold
// what was written (zero until then). It can be stopped and started again
// on the same port, as a PLC that reboots.
type relServer struct {
	Addr string // host:port, the same across restarts

	reads atomic.Uint64 // read requests served

	mu  sync.Mutex
	hr  [64]uint16
	srv *sv.ModbusServer
}

// relStartServer starts a server on a free port and stops it at the end of
// the test.
func relStartServer(t testing.TB) *relServer {
	t.Helper()
	s := &relServer{}
	var err error
	for range 5 { // the port found free may be taken before the server binds it
		if s.Addr, err = relFreeAddr(); err != nil {
			continue
		}
		if err = s.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("modbus server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func relFreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start (re)starts the server on s.Addr.
func (s *relServer) Start() error {
	srv, err := sv.NewServer(&sv.ServerConfiguration{
		URL: "tcp://" + s.Addr, Timeout: 30 * time.Second, MaxClients: 16,
		Logger: log.New(io.Discard, "", 0),
	}, (*relHandler)(s))
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

// Stop closes the listener and every client connection. Idempotent.
func (s *relServer) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Stop()
	}
}

// Counter is the last value of hr:0 the server handed out.
func (s *relServer) Counter() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hr[0]
}

// Reads is the number of read requests served so far.
func (s *relServer) Reads() uint64 { return s.reads.Load() }

// Reg returns hr:i.
func (s *relServer) Reg(i int) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hr[i]
}

type relHandler relServer

func (h *relHandler) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	s := (*relServer)(h)
	end := int(req.Addr) + int(req.Quantity)
	if end > len(s.hr) {
		return nil, sv.ErrIllegalDataAddress
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.IsWrite {
		copy(s.hr[req.Addr:end], req.Args)
		return nil, nil
	}
	s.reads.Add(1)
	if req.Addr == 0 {
		s.hr[0]++
	}
	out := make([]uint16, req.Quantity)
	copy(out, s.hr[req.Addr:end])
	return out, nil
}

func (h *relHandler) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}

func (h *relHandler) HandleCoils(*sv.CoilsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

func (h *relHandler) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

// relProxy is a TCP proxy on 127.0.0.1:0 in front of a backend. It counts
// the connections it accepted, and with BlackHole(true) it keeps accepting
// and reading but forwards nothing, so no request is ever answered (a PLC
// whose network path died while its TCP stack still answers, or a switch
// that drops packets).
type relProxy struct {
	Addr    string
	backend string

	accepted atomic.Int64
	hole     atomic.Bool

	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func relStartProxy(t testing.TB, backend string) *relProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &relProxy{Addr: l.Addr().String(), backend: backend, l: l, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// BlackHole switches swallowing on or off. It applies to open connections
// at once.
func (p *relProxy) BlackHole(on bool) { p.hole.Store(on) }

// Accepted is the number of connections accepted so far.
func (p *relProxy) Accepted() int64 { return p.accepted.Load() }

func (p *relProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *relProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *relProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	b, err := net.Dial("tcp", p.backend)
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

// Close stops accepting and drops every connection.
func (p *relProxy) Close() {
	_ = p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// relDevice is the YAML of one modbus device with a counter tag (hr:0,
// "Counter") and a writable register (hr:1, "Setpoint"), plus extra YAML
// lines (settings such as demote_after, indented by four spaces) and extra
// tags (each a YAML flow map). options starts with ", " when set; the
// driver's timeout is 300ms unless options sets it.
func relDevice(name, addr, scan, options, settings string, extraTags ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    driver: modbus\n    scan: %s\n", name, scan)
	if !strings.Contains(options, "timeout:") {
		options += ", timeout: 300ms"
	}
	fmt.Fprintf(&b, "    options: { address: %q, reconnect_min: 20ms, reconnect_max: 200ms%s }\n", addr, options)
	if settings != "" {
		for _, l := range strings.Split(strings.TrimSpace(settings), "\n") {
			fmt.Fprintf(&b, "    %s\n", strings.TrimSpace(l))
		}
	}
	b.WriteString("    tags:\n")
	b.WriteString("      - { name: Counter, address: \"hr:0\", type: uint16 }\n")
	b.WriteString("      - { name: Setpoint, address: \"hr:1\", type: uint16, access: readwrite }\n")
	for _, t := range extraTags {
		fmt.Fprintf(&b, "      - %s\n", t)
	}
	return b.String()
}

// relConfig is a whole config: OPC UA on 127.0.0.1:0, anonymous read, an
// "operator" user that may write (password "secret"), and the devices.
func relConfig(devices ...string) string {
	return `gateway: { name: reltest, log: { level: warn } }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:reltest
  security: [none]
  anonymous: read
  users: [ { name: operator, password_hash: "` + relPasswordHash + `", role: write } ]
devices:
` + strings.Join(devices, "")
}

// relPasswordHash is bcrypt("secret") at cost 4.
const relPasswordHash = "$2a$04$H3v8mNUYbghM5aYA5YFprO9HoDulMRDzVMXrO9tUfZ.kxmULFBemu"

// relParse parses YAML into a config and fails the test on any error.
func relParse(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "reltest.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return cfg
}

// relGateway is a running gateway and its logs.
type relGateway struct {
	*Gateway
	Endpoint string
	Logs     *relLog
}

// relStart builds and runs a gateway from yaml until the end of the test.
func relStart(t testing.TB, yaml string) *relGateway {
	t.Helper()
	logs := &relLog{}
	g, err := New(context.Background(), relParse(t, yaml), Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "test"})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(ep string) { ready <- ep }) }()
	rg := &relGateway{Gateway: g, Logs: logs}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway.Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("gateway.Run did not return within 15s of cancel")
		}
	})
	select {
	case rg.Endpoint = <-ready:
	case err := <-done:
		t.Fatalf("gateway.Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway not listening within 10s")
	}
	return rg
}

// relNoEntry marks a path the store does not hold (removed or never known).
const relNoEntry = drivers.Quality(0x80340000) // BadNodeIdUnknown

// Value is the store's latest value of a tag path.
func (g *relGateway) Value(path string) mapping.Value {
	e := g.store.Lookup(path)
	if e == nil {
		return mapping.Value{Quality: relNoEntry}
	}
	return e.Load()
}

// Tag is the current table's tag at path.
func (g *relGateway) Tag(path string) *mapping.Tag {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tbl.Tag(path)
}

// relLog collects log output for assertions.
type relLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *relLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *relLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// relWait polls cond every 20 ms until it holds or limit passes; then it
// fails the test with what().
func relWait(t testing.TB, limit time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// relGood waits for every path to be Good.
func (g *relGateway) relGood(t testing.TB, limit time.Duration, paths ...string) {
	t.Helper()
	for _, p := range paths {
		relWait(t, limit, func() bool { return g.Value(p).Quality == drivers.Good },
			func() string { return fmt.Sprintf("%s Good (now %+v)", p, g.Value(p)) })
	}
}

// relQuality waits for path to have quality q.
func (g *relGateway) relQuality(t testing.TB, limit time.Duration, path string, q drivers.Quality) {
	t.Helper()
	relWait(t, limit, func() bool { return g.Value(path).Quality == q },
		func() string { return fmt.Sprintf("%s %v (now %+v)", path, q, g.Value(path)) })
}

// relClient connects a gopcua client (security None) and closes it at the
// end of the test.
func relClient(t testing.TB, endpoint string, opts ...opcua.Option) *opcua.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]opcua.Option{opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second)}, opts...)
	c, err := opcua.NewClient(endpoint, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("opc ua connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// relNode is the NodeId of a tag path (the application namespace is ns=1).
func relNode(path string) *ua.NodeID { return ua.NewStringNodeID(1, path) }

// relRead reads the Value attribute of each path.
func relRead(t testing.TB, c *opcua.Client, paths ...string) []*ua.DataValue {
	t.Helper()
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, p := range paths {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: relNode(p), AttributeID: ua.AttributeIDValue})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Read(ctx, req)
	if err != nil {
		t.Fatalf("opc ua read %v: %v", paths, err)
	}
	if len(res.Results) != len(paths) {
		t.Fatalf("opc ua read %v: %d results", paths, len(res.Results))
	}
	return res.Results
}

// relStatus is a DataValue's status (Good when unset).
func relStatus(dv *ua.DataValue) ua.StatusCode {
	if dv == nil {
		return ua.StatusBad
	}
	return dv.Status
}

// relFDs counts this process's open file descriptors (Linux), or -1.
func relFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// relQualityErr extracts the quality from a scheduler write error.
func relQualityErr(err error) (drivers.Quality, bool) {
	var qe *drivers.QualityError
	if errors.As(err, &qe) {
		return qe.Quality, true
	}
	return 0, false
}

// relRawPeer is a hand-written Modbus TCP responder for FC3 on 127.0.0.1:0
// whose answers the test can spoil: in mode "ok" it answers correctly (hr:0
// counts the reads, like relServer); in the other modes it answers every
// request with a broken frame (see relRawReply).
type relRawPeer struct {
	Addr string

	mu      sync.Mutex
	mode    string
	counter uint16
	l       net.Listener
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func relStartRawPeer(t testing.TB) *relRawPeer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("raw peer: %v", err)
	}
	p := &relRawPeer{Addr: l.Addr().String(), mode: "ok", l: l, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.conns == nil {
				p.mu.Unlock()
				_ = c.Close()
				return
			}
			p.conns[c] = true
			p.mu.Unlock()
			p.wg.Add(1)
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		p.mu.Lock()
		for c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// SetMode switches how the following requests are answered.
func (p *relRawPeer) SetMode(m string) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

func (p *relRawPeer) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
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
			reply = relRawReply(mode, hdr, regs)
		} else {
			reply = relFrame(hdr, []byte{pdu[0] | 0x80, 1}) // illegal function
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

// relFrame builds an MBAP frame with the request's transaction and unit id.
func relFrame(req []byte, pdu []byte) []byte {
	f := []byte{req[0], req[1], 0, 0, byte((len(pdu) + 1) >> 8), byte(len(pdu) + 1), req[6]}
	return append(f, pdu...)
}

// relRawReply is the answer to an FC3 read of regs in each mode.
func relRawReply(mode string, req, regs []byte) []byte {
	good := relFrame(req, append([]byte{3, byte(len(regs))}, regs...))
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
		return relFrame(req, []byte{0x83})
	}
	return good
}
