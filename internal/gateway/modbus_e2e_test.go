package gateway

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// The end-to-end path of a Modbus tag: simonvetter's Modbus TCP server
// in-process -> the modbus driver -> the scheduler -> mapping (scaling) ->
// the OPC UA server -> gopcua's client, the way a SCADA client sees it.

// mbWords splits big-endian bytes into registers.
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

// mbRead reads the Value of tags (paths under Objects) in one request.
func mbRead(t *testing.T, c *opcua.Client, ns uint16, paths ...string) map[string]*ua.DataValue {
	t.Helper()
	return mbByPath(paths, readValues(t, c, tagNodes(ns, paths)...))
}

// mbWaitFor reads paths until cond holds for the results and returns the
// last results; it fails the test with them otherwise.
func mbWaitFor(t *testing.T, c *opcua.Client, ns uint16, what string, cond func(map[string]*ua.DataValue) bool, paths ...string) map[string]*ua.DataValue {
	t.Helper()
	return mbByPath(paths, waitRead(t, c, what, func(dvs []*ua.DataValue) bool { return cond(mbByPath(paths, dvs)) }, tagNodes(ns, paths)...))
}

func mbByPath(paths []string, dvs []*ua.DataValue) map[string]*ua.DataValue {
	out := make(map[string]*ua.DataValue, len(paths))
	for i, p := range paths {
		out[p] = dvs[i]
	}
	return out
}

func TestModbusEndToEnd(t *testing.T) {
	// Registered first, so it runs after every other cleanup: the gateway,
	// the clients and the PLC leave no goroutine behind.
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) })
	plc := mbtest.Start(t)

	// Known values, written as a PLC holds them.
	f32 := func(f float32) []byte { return binary.BigEndian.AppendUint32(nil, math.Float32bits(f)) }
	plc.SetHR(1, 0, mbWords(f32(123.456))...) // ABCD
	flow := mbWords(f32(-12.5))
	plc.SetHR(1, 2, flow[1], flow[0])                                           // CDAB: low word first
	plc.SetHR(1, 4, mbInt16(-1234))                                             // int16 -1234 x0.1
	plc.SetHR(1, 5, 13824)                                                      // half of 27648
	plc.SetHR(1, 6, mbWords(binary.BigEndian.AppendUint32(nil, 3000000000))...) // uint32 ABCD
	plc.SetHR(1, 8, mbWords([]byte("PRESS-03"))...)                             // string, high byte first
	plc.SetHR(1, 12, 0x1234)                                                    // bcd16 1234
	plc.SetHR(1, 13, 0x0008)                                                    // bit 3 set, bit 4 clear
	life := int64(-1234567890123)                                               // DCBA: fully little endian
	plc.SetHR(1, 14, mbWords(binary.LittleEndian.AppendUint64(nil, uint64(life)))...)
	plc.SetHR(1, 20, 777) // hidden behind exception 2
	plc.SetHR(1, 30, mbWords(f32(10))...)
	plc.SetHR(1, 32, 500) // 50.0
	plc.SetIR(1, 0, 1450)
	plc.SetCoils(1, 0, true)
	plc.Illegal(20) // hr:20 does not exist in this PLC

	ep := startGateway(t, fmt.Sprintf(mbYAML, secretHash, plc.Addr)).Endpoint
	c := dialUA(t, ep)
	ns := findNS(t, c, "urn:tagbridge:e2e")

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
		op := dialUA(t, ep, opcua.AuthUsername("operator", "secret"))
		anon := c
		for _, w := range []struct {
			tag   string
			v     any
			check func() error
		}{
			{"Setpoint", float32(42.5), func() error {
				if got := plc.HR(1, 30, 2); math.Float32frombits(uint32(got[0])<<16|uint32(got[1])) != 42.5 {
					return fmt.Errorf("hr:30..31 = %#04x, want float32 42.5 ABCD", got)
				}
				return nil
			}},
			{"Limit", 55.5, func() error { // inverse scaling: 55.5 / 0.1 = 555
				if got := plc.HR(1, 32, 1)[0]; got != 555 {
					return fmt.Errorf("hr:32 = %d, want 555", got)
				}
				return nil
			}},
			{"Enable", true, func() error {
				if !plc.Coil(1, 5) {
					return fmt.Errorf("coil:5 is off, want on")
				}
				return nil
			}},
			{"Mode/Auto", true, func() error { // a bit write keeps the other bits
				if got := plc.HR(1, 33, 1)[0]; got != 0x8004 {
					return fmt.Errorf("hr:33 = %#04x, want 0x8004 (bit 2 set, bit 15 kept)", got)
				}
				return nil
			}},
		} {
			if w.tag == "Mode/Auto" {
				plc.SetHR(1, 33, 0x8000)
			}
			node := ua.NewStringNodeID(ns, dir+w.tag)
			if st := writeValue(t, anon, node, w.v); st != ua.StatusBadUserAccessDenied {
				t.Errorf("anonymous write %s: %v, want BadUserAccessDenied", w.tag, st)
			}
			if st := writeValue(t, op, node, w.v); st != ua.StatusOK {
				t.Errorf("write %s = %v: %v", w.tag, w.v, st)
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
		plc.Stop()
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
				t.Errorf("%s after the PLC went down: %s, want the last value %s", p, showDV(a), showDV(b))
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
