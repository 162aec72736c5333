package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	sv "github.com/simonvetter/modbus"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/tagbridge/tagbridge/config"
)

// The end-to-end path of a Modbus tag: simonvetter's Modbus TCP server
// in-process -> the modbus driver -> the scheduler -> mapping (scaling) ->
// the OPC UA server -> gopcua's client, the way a SCADA client sees it.

// mbPLC is a Modbus TCP server on 127.0.0.1 (unit 1) whose memory the test
// sets and inspects. Registers in illegal answer exception 2.
type mbPLC struct {
	addr string

	mu      sync.Mutex
	hr, ir  [256]uint16
	coils   [64]bool
	illegal map[uint16]bool
	srv     *sv.ModbusServer
}

// mbStartPLC starts the server on a free 127.0.0.1 port. The library cannot
// listen on :0 and report the port, so the port comes from a :0 listener
// closed just before; Start is retried if another process took it.
func mbStartPLC(t *testing.T) *mbPLC {
	t.Helper()
	p := &mbPLC{illegal: map[uint16]bool{}}
	var err error
	for range 5 {
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			continue
		}
		p.addr = l.Addr().String()
		_ = l.Close()
		if err = p.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("modbus server: %v", err)
	}
	t.Cleanup(p.stop)
	return p
}

func (p *mbPLC) start() error {
	srv, err := sv.NewServer(&sv.ServerConfiguration{
		URL: "tcp://" + p.addr, Timeout: 30 * time.Second, MaxClients: 8,
		Logger: log.New(io.Discard, "", 0),
	}, (*mbHandler)(p))
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

// stop closes the listener and every client connection: the PLC goes away.
func (p *mbPLC) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Stop()
	}
}

func (p *mbPLC) setHR(addr uint16, v ...uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	copy(p.hr[addr:], v)
}

func (p *mbPLC) getHR(addr uint16, n int) []uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint16(nil), p.hr[addr:int(addr)+n]...)
}

func (p *mbPLC) coil(addr uint16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.coils[addr]
}

type mbHandler mbPLC

// span checks that [addr, addr+n) is inside mem and holds no illegal
// register (exception 2 otherwise, as a real PLC answers for a hole in its
// map). It is called with mu held.
func (h *mbHandler) span(addr, n uint16, size int, regs bool) error {
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

func (h *mbHandler) HandleCoils(r *sv.CoilsRequest) ([]bool, error) {
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

func (h *mbHandler) HandleDiscreteInputs(r *sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

func (h *mbHandler) HandleHoldingRegisters(r *sv.HoldingRegistersRequest) ([]uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.span(r.Addr, r.Quantity, len(h.hr), true); err != nil {
		return nil, err
	}
	if r.IsWrite {
		copy(h.hr[r.Addr:], r.Args)
		return nil, nil
	}
	return append([]uint16(nil), h.hr[r.Addr:r.Addr+r.Quantity]...), nil
}

func (h *mbHandler) HandleInputRegisters(r *sv.InputRegistersRequest) ([]uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.span(r.Addr, r.Quantity, len(h.ir), false); err != nil {
		return nil, err
	}
	return append([]uint16(nil), h.ir[r.Addr:r.Addr+r.Quantity]...), nil
}

// words splits big-endian bytes into registers.
func mbWords(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return out
}

const mbYAML = `
gateway: { name: e2e, log: { level: debug } }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:e2e
  security: [none]
  anonymous: read
  users: [ { name: operator, password_hash: "%s", role: write } ]
devices:
  - name: plc1
    driver: modbus
    scan: 100ms
    folder: Line1/PLC1
    backoff_min: 50ms
    backoff_max: 200ms
    options:
      transport: tcp
      address: %s
      unit_id: 1
      timeout: 300ms
      reconnect_min: 50ms
      reconnect_max: 200ms
    tags:
      - { name: Temperature,   address: "40001",  type: float32, unit: degC }
      - { name: Flow,          address: "hr:2",   type: float32, byte_order: CDAB }
      - { name: Pressure,      address: "40005",  type: int16, scale: { gain: 0.1, offset: 0 }, unit: bar }
      - { name: Level,         address: "hr:5",   type: int16, scale: { raw: [0, 27648], eng: [0, 100] } }
      - { name: Count,         address: "hr:6",   type: uint32 }
      - { name: Recipe,        address: "hr:8",   type: string, length: 8 }
      - { name: AlarmCode,     address: "hr:12",  type: bcd16 }
      - { name: Status/Ready,  address: "40014.3", type: bool }
      - { name: Status/Fault,  address: "hr:13.4", type: bool }
      - { name: Lifetime,      address: "hr:14",  type: int64, byte_order: DCBA }
      - { name: Missing,       address: "hr:20",  type: uint16 }
      - { name: Speed,         address: "ir:0",   type: uint16 }
      - { name: Running,       address: "00001", type: bool }
      - { name: Door,          address: "coil:1", type: bool }
      - { name: Setpoint,      address: "hr:30",  type: float32, access: readwrite }
      - { name: Limit,         address: "hr:32",  type: int16, scale: { gain: 0.1, offset: 0 }, access: readwrite }
      - { name: Enable,        address: "coil:5", type: bool, access: readwrite }
      - { name: Mode/Auto,     address: "hr:33.2", type: bool, access: readwrite }
`

// mbGateway runs a gateway for cfgYAML until the end of the test and
// returns its endpoint.
func mbGateway(t *testing.T, cfgYAML string) string {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgYAML), "e2e.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var logs mbLog
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	g, err := New(ctx, cfg, Options{Logger: logger, Version: "e2e"})
	if err != nil {
		cancel()
		t.Fatalf("gateway.New: %v", err)
	}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(ep string) { ready <- ep }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gateway.Run did not return within 10s of cancel")
		}
	})
	select {
	case ep := <-ready:
		return ep
	case err := <-done:
		t.Fatalf("gateway.Run returned before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not serve within 10s")
	}
	return ""
}

type mbLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *mbLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *mbLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mbConnect(t *testing.T, endpoint string, opts ...opcua.Option) *opcua.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]opcua.Option{
		opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.SecurityPolicy(ua.SecurityPolicyURINone),
		opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second),
	}, opts...)
	c, err := opcua.NewClient(endpoint, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// mbRead reads the Value of tags (paths under Objects) in one request.
func mbRead(t *testing.T, c *opcua.Client, ns uint16, paths ...string) map[string]*ua.DataValue {
	t.Helper()
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
	for _, p := range paths {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: ua.NewStringNodeID(ns, p), AttributeID: ua.AttributeIDValue})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Read(ctx, req)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(res.Results) != len(paths) {
		t.Fatalf("read %d nodes: %d results", len(paths), len(res.Results))
	}
	out := map[string]*ua.DataValue{}
	for i, p := range paths {
		out[p] = res.Results[i]
	}
	return out
}

// mbWaitFor reads paths until cond holds for the results (at most 15 s) and
// returns the last results; it fails the test with them otherwise.
func mbWaitFor(t *testing.T, c *opcua.Client, ns uint16, what string, cond func(map[string]*ua.DataValue) bool, paths ...string) map[string]*ua.DataValue {
	t.Helper()
	var got map[string]*ua.DataValue
	for range 150 {
		got = mbRead(t, c, ns, paths...)
		if cond(got) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "\n  %s: %s", p, mbShow(got[p]))
	}
	t.Fatalf("%s: not reached within 15s; last read:%s", what, b.String())
	return nil
}

func mbShow(dv *ua.DataValue) string {
	if dv == nil {
		return "<nil>"
	}
	var v any
	if dv.Value != nil {
		v = dv.Value.Value()
	}
	return fmt.Sprintf("%v (%T) status %v source %v", v, v, dv.Status, dv.SourceTimestamp)
}

func TestModbusEndToEnd(t *testing.T) {
	// Registered first, so it runs after every other cleanup: the gateway,
	// the clients and the PLC leave no goroutine behind.
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) })
	plc := mbStartPLC(t)

	// Known values, written as a PLC holds them.
	f32 := func(f float32) []byte { return binary.BigEndian.AppendUint32(nil, math.Float32bits(f)) }
	plc.setHR(0, mbWords(f32(123.456))...) // ABCD
	flow := mbWords(f32(-12.5))
	plc.setHR(2, flow[1], flow[0])                                           // CDAB: low word first
	plc.setHR(4, mbInt16(-1234))                                             // int16 -1234 x0.1
	plc.setHR(5, 13824)                                                      // half of 27648
	plc.setHR(6, mbWords(binary.BigEndian.AppendUint32(nil, 3000000000))...) // uint32 ABCD
	plc.setHR(8, mbWords([]byte("PRESS-03"))...)                             // string, high byte first
	plc.setHR(12, 0x1234)                                                    // bcd16 1234
	plc.setHR(13, 0x0008)                                                    // bit 3 set, bit 4 clear
	life := int64(-1234567890123)                                            // DCBA: fully little endian
	plc.setHR(14, mbWords(binary.LittleEndian.AppendUint64(nil, uint64(life)))...)
	plc.setHR(20, 777) // hidden behind exception 2
	plc.setHR(30, mbWords(f32(10))...)
	plc.setHR(32, 500) // 50.0
	plc.mu.Lock()
	plc.ir[0] = 1450
	plc.coils[0] = true
	plc.illegal[20] = true // hr:20 does not exist in this PLC
	plc.mu.Unlock()

	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ep := mbGateway(t, fmt.Sprintf(mbYAML, hash, plc.addr))
	c := mbConnect(t, ep)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ns, err := c.FindNamespace(ctx, "urn:tagbridge:e2e")
	cancel()
	if err != nil {
		t.Fatalf("namespace urn:tagbridge:e2e: %v", err)
	}

	const dir = "Line1/PLC1/"
	want := []struct {
		tag string
		v   any
	}{
		{"Temperature", float32(123.456)},
		{"Flow", float32(-12.5)},
		{"Pressure", -123.4},
		{"Level", 50.0},
		{"Count", uint32(3000000000)},
		{"Recipe", "PRESS-03"},
		{"AlarmCode", uint16(1234)},
		{"Status/Ready", true},
		{"Status/Fault", false},
		{"Lifetime", life},
		{"Speed", uint16(1450)},
		{"Running", true},
		{"Door", false},
		{"Setpoint", float32(10)},
		{"Limit", 50.0},
		{"Enable", false},
		{"Mode/Auto", false},
	}
	good := make([]string, 0, len(want))
	for _, w := range want {
		good = append(good, dir+w.tag)
	}
	allGood := func(m map[string]*ua.DataValue) bool {
		for _, p := range good {
			if m[p].Status != ua.StatusOK {
				return false
			}
		}
		return true
	}
	start := time.Now()

	t.Run("values", func(t *testing.T) {
		got := mbWaitFor(t, c, ns, "every tag Good", allGood, good...)
		for _, w := range want {
			dv := got[dir+w.tag]
			if dv.Value == nil {
				t.Errorf("%s: no value", w.tag)
				continue
			}
			v := dv.Value.Value()
			switch wv := w.v.(type) {
			case float64:
				if f, ok := v.(float64); !ok || math.Abs(f-wv) > 1e-9 {
					t.Errorf("%s = %v (%T), want %v (float64)", w.tag, v, v, wv)
				}
			default:
				if v != w.v {
					t.Errorf("%s = %v (%T), want %v (%T)", w.tag, v, v, w.v, w.v)
				}
			}
			if dv.SourceTimestamp.Before(start.Add(-time.Second)) || dv.SourceTimestamp.After(time.Now().Add(time.Second)) {
				t.Errorf("%s: source timestamp %v, want the time of the reply (test started %v)", w.tag, dv.SourceTimestamp, start)
			}
			if dv.ServerTimestamp.IsZero() {
				t.Errorf("%s: no server timestamp", w.tag)
			}
		}
	})

	t.Run("exception 2 isolates one tag", func(t *testing.T) {
		paths := append([]string{dir + "Missing"}, good...)
		got := mbWaitFor(t, c, ns, "Missing BadConfigurationError, the others Good", func(m map[string]*ua.DataValue) bool {
			return m[dir+"Missing"].Status == ua.StatusBadConfigurationError && allGood(m)
		}, paths...)
		if v := got[dir+"Missing"].Value; v != nil && v.Value() != nil {
			t.Errorf("Missing has value %v: a tag the PLC refuses must not show a value", v.Value())
		}
	})

	t.Run("write", func(t *testing.T) {
		op := mbConnect(t, ep, opcua.AuthUsername("operator", "secret"))
		anon := c
		for _, w := range []struct {
			tag   string
			v     any
			check func() error
		}{
			{"Setpoint", float32(42.5), func() error {
				if got := plc.getHR(30, 2); math.Float32frombits(uint32(got[0])<<16|uint32(got[1])) != 42.5 {
					return fmt.Errorf("hr:30..31 = %#04x, want float32 42.5 ABCD", got)
				}
				return nil
			}},
			{"Limit", 55.5, func() error { // inverse scaling: 55.5 / 0.1 = 555
				if got := plc.getHR(32, 1)[0]; got != 555 {
					return fmt.Errorf("hr:32 = %d, want 555", got)
				}
				return nil
			}},
			{"Enable", true, func() error {
				if !plc.coil(5) {
					return fmt.Errorf("coil:5 is off, want on")
				}
				return nil
			}},
			{"Mode/Auto", true, func() error { // a bit write keeps the other bits
				plc.mu.Lock()
				defer plc.mu.Unlock()
				if got := plc.hr[33]; got != 0x8004 {
					return fmt.Errorf("hr:33 = %#04x, want 0x8004 (bit 2 set, bit 15 kept)", got)
				}
				return nil
			}},
		} {
			if w.tag == "Mode/Auto" {
				plc.setHR(33, 0x8000)
			}
			v, err := ua.NewVariant(w.v)
			if err != nil {
				t.Fatal(err)
			}
			req := &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
				NodeID: ua.NewStringNodeID(ns, dir+w.tag), AttributeID: ua.AttributeIDValue,
				Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: v},
			}}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := anon.Write(ctx, req)
			if err != nil || len(res.Results) != 1 || res.Results[0] != ua.StatusBadUserAccessDenied {
				t.Errorf("anonymous write %s: %v %v, want BadUserAccessDenied", w.tag, res, err)
			}
			res, err = op.Write(ctx, req)
			cancel()
			if err != nil {
				t.Fatalf("write %s: %v", w.tag, err)
			}
			if res.Results[0] != ua.StatusOK {
				t.Errorf("write %s = %v: %v", w.tag, w.v, res.Results[0])
				continue
			}
			// The write returns once the PLC confirmed it.
			if err := w.check(); err != nil {
				t.Errorf("after writing %s = %v: %v", w.tag, w.v, err)
			}
			// Read-after-write: clients see what the PLC holds.
			mbWaitFor(t, c, ns, "read back "+w.tag, func(m map[string]*ua.DataValue) bool {
				dv := m[dir+w.tag]
				if dv.Status != ua.StatusOK || dv.Value == nil {
					return false
				}
				if f, ok := w.v.(float64); ok {
					g, ok := dv.Value.Value().(float64)
					return ok && math.Abs(g-f) < 1e-9
				}
				return dv.Value.Value() == w.v
			}, dir+w.tag)
		}
	})

	t.Run("PLC down keeps the last value", func(t *testing.T) {
		before := mbRead(t, c, ns, good...)
		plc.stop()
		allBad := func(m map[string]*ua.DataValue) bool {
			for _, p := range good {
				if m[p].Status != ua.StatusBadCommunicationError {
					return false
				}
			}
			return true
		}
		got := mbWaitFor(t, c, ns, "every tag BadCommunicationError", allBad, good...)
		time.Sleep(500 * time.Millisecond) // a few failed scans later...
		later := mbWaitFor(t, c, ns, "every tag still BadCommunicationError", allBad, good...)
		for _, p := range good {
			b, a, l := before[p], got[p], later[p]
			if a.Value == nil || b.Value == nil || fmt.Sprint(a.Value.Value()) != fmt.Sprint(b.Value.Value()) {
				t.Errorf("%s after the PLC went down: %s, want the last value %s", p, mbShow(a), mbShow(b))
			}
			// ...the source timestamp is still that of the last good read.
			if a.SourceTimestamp.Before(b.SourceTimestamp) || !l.SourceTimestamp.Equal(a.SourceTimestamp) {
				t.Errorf("%s: source timestamp %v then %v while down, want the last good read's (>= %v) and unchanged",
					p, a.SourceTimestamp, l.SourceTimestamp, b.SourceTimestamp)
			}
		}
	})
}

func mbInt16(v int16) uint16 { return uint16(v) }
