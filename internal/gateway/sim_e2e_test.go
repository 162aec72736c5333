package gateway

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"
)

// simYAML is the end-to-end gateway: one sim device with a sine, a counter
// and a writable setpoint; an operator who may write; anonymous may read.
const simYAML = `
gateway: { name: sim-e2e, log: { level: warn } }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:sim-e2e
  security: [none]
  anonymous: read
  users:
    - { name: operator, password_hash: "%s", role: write }
devices:
  - name: press
    driver: sim
    scan: 50ms
    folder: Line1/Press
    options: { seed: 7 }
    tags:
      - { name: Speed, address: "sine:period=2s,amplitude=50,offset=20", type: float64, unit: rpm }
      - { name: Strokes, address: counter, type: uint32 }
      - { name: Hydraulics/Setpoint, address: "memory:float32=1800", type: float32, access: readwrite, scale: { raw: [0, 2500], eng: [0, 250], clamp: true } }
`

const (
	simURI      = "urn:tagbridge:sim-e2e"
	simPassword = "s3cret-operator"
	simSpeed    = "Line1/Press/Speed"
	simStrokes  = "Line1/Press/Strokes"
	simSetpoint = "Line1/Press/Hydraulics/Setpoint"
	simLimit    = 10 * time.Second // bound of the wait for notifications
)

// TestSimEndToEnd is issue 2's end-to-end test: the real gateway (config ->
// sim driver -> scheduler -> mapping -> store -> OPC UA server) on
// 127.0.0.1:0, driven by the gopcua client as a SCADA system would.
func TestSimEndToEnd(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	hash, err := bcrypt.GenerateFromPassword([]byte(simPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, fmt.Sprintf(simYAML, hash))
	anon := dialUA(t, g.Endpoint, opcua.AuthAnonymous())
	op := dialUA(t, g.Endpoint, opcua.AuthUsername("operator", simPassword))
	ns := findNS(t, anon, simURI)
	node := func(p string) *ua.NodeID { return ua.NewStringNodeID(ns, p) }

	t.Run("browse", func(t *testing.T) { simCheckBrowse(t, anon, ns) })
	t.Run("read", func(t *testing.T) { simCheckRead(t, anon, node) })
	t.Run("subscribe", func(t *testing.T) { simCheckSubscribe(t, anon, node) })
	t.Run("write", func(t *testing.T) { simCheckWrite(t, anon, op, node) })
	t.Run("device status", func(t *testing.T) {
		dvs := waitRead(t, anon, "Connected true", func(dvs []*ua.DataValue) bool {
			return dvs[0].Status == ua.StatusOK && dvs[0].Value.Value() == true
		}, node("_Devices/press/Connected"), node("_Devices/press/ReadCount"))
		if n, ok := simNumber(dvs[1].Value.Value()); !ok || n < 1 {
			t.Errorf("_Devices/press/ReadCount = %v, want >= 1", dvs[1].Value.Value())
		}
	})

	// Shutdown: sessions closed, Run returns after cancel, nothing left behind.
	_ = anon.Close(uaCtx(t))
	_ = op.Close(uaCtx(t))
	g.Stop()
	goleak.VerifyNone(t, leaks)
}

// simCheckBrowse walks Objects down to the device's folder and variables and
// to its _Devices status folder, checking node ids, classes and data types.
func simCheckBrowse(t *testing.T, c *opcua.Client, ns uint16) {
	tree := browseTree(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder))
	for _, want := range []struct {
		path  string
		class ua.NodeClass
	}{
		{"Line1", ua.NodeClassObject},
		{"Line1/Press", ua.NodeClassObject},
		{"Line1/Press/Hydraulics", ua.NodeClassObject},
		{simSpeed, ua.NodeClassVariable},
		{simStrokes, ua.NodeClassVariable},
		{simSetpoint, ua.NodeClassVariable},
		{"_Devices", ua.NodeClassObject},
		{"_Devices/press", ua.NodeClassObject},
		{"_Devices/press/Connected", ua.NodeClassVariable},
		{"_Devices/press/State", ua.NodeClassVariable},
		{"_Devices/press/LastError", ua.NodeClassVariable},
	} {
		rd, ok := tree[want.path]
		if !ok {
			t.Errorf("browsing Objects does not find %s (found %d nodes)", want.path, len(tree))
			continue
		}
		if rd.NodeClass != want.class {
			t.Errorf("%s is a %v, want %v", want.path, rd.NodeClass, want.class)
		}
		if want.class == ua.NodeClassVariable {
			if got := rd.NodeID.NodeID; got.Namespace() != ns || got.StringID() != want.path {
				t.Errorf("%s has NodeId %s, want ns=%d;s=%s", want.path, got, ns, want.path)
			}
		}
	}
	// Data types and access levels as a client sees them.
	var req []*ua.ReadValueID
	for _, p := range []string{simSpeed, simStrokes, simSetpoint} {
		n := ua.NewStringNodeID(ns, p)
		req = append(req,
			&ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDDataType},
			&ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDAccessLevel})
	}
	res := readAttrs(t, c, req...)
	for i, want := range []struct {
		path     string
		dataType uint32
		writable bool
	}{{simSpeed, id.Double, false}, {simStrokes, id.UInt32, false}, {simSetpoint, id.Double, true}} { // a scaled tag is a Double
		if dt, ok := res[2*i].Value.Value().(*ua.NodeID); !ok || dt.IntID() != want.dataType {
			t.Errorf("%s DataType = %v, want i=%d", want.path, res[2*i].Value.Value(), want.dataType)
		}
		al, ok := res[2*i+1].Value.Value().(uint8)
		if !ok || al&uint8(ua.AccessLevelTypeCurrentRead) == 0 {
			t.Errorf("%s AccessLevel = %v, want CurrentRead", want.path, res[2*i+1].Value.Value())
		}
		if got := al&uint8(ua.AccessLevelTypeCurrentWrite) != 0; got != want.writable {
			t.Errorf("%s AccessLevel %#x: writable %v, want %v", want.path, al, got, want.writable)
		}
	}
}

// simCheckRead: every tag reads Good, with its type, and with a source
// timestamp (when the device answered) and a server timestamp.
func simCheckRead(t *testing.T, c *opcua.Client, node func(string) *ua.NodeID) {
	before := time.Now().Add(-time.Minute)
	dvs := waitRead(t, c, "all Good", func(dvs []*ua.DataValue) bool {
		for _, dv := range dvs {
			if dv.Status != ua.StatusOK {
				return false
			}
		}
		return true
	}, node(simSpeed), node(simStrokes), node(simSetpoint))
	if v, ok := dvs[0].Value.Value().(float64); !ok || v < -30 || v > 70 {
		t.Errorf("Speed = %#v, want a float64 in [-30, 70] (sine offset 20, amplitude 50)", dvs[0].Value.Value())
	}
	if _, ok := dvs[1].Value.Value().(uint32); !ok {
		t.Errorf("Strokes = %#v, want a uint32", dvs[1].Value.Value())
	}
	if v, ok := dvs[2].Value.Value().(float64); !ok || math.Abs(v-180) > 1e-9 {
		t.Errorf("Setpoint = %#v, want Double 180 (the memory's initial 1800, scaled)", dvs[2].Value.Value())
	}
	for i, name := range []string{"Speed", "Strokes", "Setpoint"} {
		dv := dvs[i]
		if dv.SourceTimestamp.Before(before) || dv.SourceTimestamp.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s SourceTimestamp %v, want the time of the read", name, dv.SourceTimestamp)
		}
		if dv.ServerTimestamp.Before(before) {
			t.Errorf("%s ServerTimestamp %v, want the time of publication", name, dv.ServerTimestamp)
		}
	}
}

// simCheckSubscribe: a subscription delivers changing values of the sine
// and of the counter, the counter never going backwards.
func simCheckSubscribe(t *testing.T, c *opcua.Client, node func(string) *ua.NodeID) {
	items := []*ua.MonitoredItemCreateRequest{
		opcua.NewMonitoredItemCreateRequestWithDefaults(node(simSpeed), ua.AttributeIDValue, 1),
		opcua.NewMonitoredItemCreateRequestWithDefaults(node(simStrokes), ua.AttributeIDValue, 2),
	}
	for _, it := range items {
		it.RequestedParameters.SamplingInterval = 50
	}
	sub, ch := subscribe(t, c, items...)
	defer func() { _ = sub.Cancel(uaCtx(t)) }()
	speeds := map[float64]bool{}
	var strokes []uint32
	eachChange(t, ch, simLimit, func() bool { return len(speeds) >= 4 && len(strokes) >= 4 },
		func() string {
			return fmt.Sprintf("the client saw %d distinct speeds and strokes %v, want 4 changes of each", len(speeds), strokes)
		},
		func(it *ua.MonitoredItemNotification) {
			if it.Value.Status != ua.StatusOK {
				t.Errorf("notification for handle %d: %v", it.ClientHandle, it.Value.Status)
				return
			}
			switch it.ClientHandle {
			case 1:
				v, ok := it.Value.Value.Value().(float64)
				if !ok {
					t.Fatalf("Speed notification %#v, want float64", it.Value.Value.Value())
				}
				speeds[v] = true
			case 2:
				v, ok := it.Value.Value.Value().(uint32)
				if !ok {
					t.Fatalf("Strokes notification %#v, want uint32", it.Value.Value.Value())
				}
				if len(strokes) > 0 && v <= strokes[len(strokes)-1] {
					t.Errorf("Strokes %d after %d: a counter's changes arrive in order", v, strokes[len(strokes)-1])
				}
				strokes = append(strokes, v)
			}
		})
}

// simCheckWrite: the operator's write reaches the sim device and comes back
// through a read of the device; anonymous and bad writes change nothing.
func simCheckWrite(t *testing.T, anon, op *opcua.Client, node func(string) *ua.NodeID) {
	write := func(c *opcua.Client, p string, v any) ua.StatusCode {
		t.Helper()
		return writeValue(t, c, node(p), v)
	}
	setpointIs := func(what string, want float64) {
		t.Helper()
		waitRead(t, anon, what, func(dvs []*ua.DataValue) bool {
			v, ok := dvs[0].Value.Value().(float64)
			return dvs[0].Status == ua.StatusOK && ok && math.Abs(v-want) < 1e-9
		}, node(simSetpoint))
	}
	setpointIs("Setpoint 180 before any write", 180)

	// UserAccessLevel tells each client beforehand whether it may write.
	for _, u := range []struct {
		who      string
		c        *opcua.Client
		writable bool
	}{{"anonymous", anon, false}, {"operator", op, true}} {
		dv := readAttrs(t, u.c, &ua.ReadValueID{NodeID: node(simSetpoint), AttributeID: ua.AttributeIDUserAccessLevel})[0]
		al, _ := dv.Value.Value().(uint8)
		if got := al&uint8(ua.AccessLevelTypeCurrentWrite) != 0; got != u.writable || al&uint8(ua.AccessLevelTypeCurrentRead) == 0 {
			t.Errorf("Setpoint UserAccessLevel for %s = %#x (%v), want read and writable=%v", u.who, al, dv.Status, u.writable)
		}
	}
	if st := write(anon, simSetpoint, 99.0); st != ua.StatusBadUserAccessDenied {
		t.Errorf("anonymous write: %v, want BadUserAccessDenied", st)
	}
	if st := write(op, simSetpoint, 42.5); st != ua.StatusOK {
		t.Fatalf("operator write Setpoint = 42.5: %v, want Good", st)
	}
	// The value read back comes from the sim device's memory point (raw
	// 425, scaled back): the write reached the device, and the
	// read-after-write published it.
	setpointIs("Setpoint 42.5 after the operator's write", 42.5)
	if st := write(op, simSetpoint, 300.0); st != ua.StatusBadOutOfRange {
		t.Errorf("write 300 to a clamped tag with eng range [0, 250]: %v, want BadOutOfRange", st)
	}
	if st := write(op, simSetpoint, "high"); st != ua.StatusBadTypeMismatch {
		t.Errorf("write a String to a Double tag: %v, want BadTypeMismatch", st)
	}
	if st := write(op, simSpeed, 1.0); st != ua.StatusBadNotWritable {
		t.Errorf("write to the read-only Speed: %v, want BadNotWritable", st)
	}
	// Several scans later (the counter counts them) the refused writes
	// have changed nothing.
	n0 := waitRead(t, anon, "Strokes Good", func(dvs []*ua.DataValue) bool { return dvs[0].Status == ua.StatusOK }, node(simStrokes))
	start, _ := simNumber(n0[0].Value.Value())
	waitRead(t, anon, "three more scans", func(dvs []*ua.DataValue) bool {
		n, ok := simNumber(dvs[0].Value.Value())
		return ok && n >= start+3
	}, node(simStrokes))
	setpointIs("Setpoint still 42.5 after refused writes", 42.5)
	if st := write(op, simSetpoint, 200.0); st != ua.StatusOK {
		t.Fatalf("operator write Setpoint = 200: %v", st)
	}
	setpointIs("Setpoint 200 after a second write", 200)
}

func simNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
