package gateway

// End to end: a fake MTConnect agent (mtconnect_agent_test.go) -> the
// gateway with an `mtconnect` device and `auto: true` -> an OPC UA client
// (gopcua).

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"go.uber.org/goleak"

	_ "github.com/tagbridge/tagbridge/drivers/mtconnect" // registers the driver
	"github.com/tagbridge/tagbridge/mapping"
)

func TestMTConnectEndToEnd(t *testing.T) {
	// Not parallel with the package's other top-level tests, so the leak
	// check below sees only what this test started.
	leaks := goleak.IgnoreCurrent()
	t.Run("group", func(t *testing.T) {
		for _, v := range mtcVersions() {
			for _, mode := range []string{"stream", "poll"} {
				t.Run(v.name+"/"+mode, func(t *testing.T) {
					t.Parallel()
					mtcEndToEnd(t, v, mode)
				})
			}
		}
		t.Run("late-agent", func(t *testing.T) {
			t.Parallel()
			mtcLateAgent(t, mtcVersions()[0])
		})
	})
	goleak.VerifyNone(t, leaks)
}

func mtcConfig(t *testing.T, url, mode, interval string) string {
	return fmt.Sprintf(`gateway: { name: mtc-e2e }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:mtc-e2e
  security: [none]
  anonymous: read
  pki: %q
devices:
  - name: lathe
    driver: mtconnect
    scan: 50ms
    folder: Cell1/Lathe
    options: { url: %q, auto: true, mode: %s, interval: %s, heartbeat: 1s, timeout: 5s }
`, t.TempDir(), url, mode, interval)
}

func mtcEndToEnd(t *testing.T, v mtcVersion, mode string) {
	agent, url := mtcStartAgent(t, v)
	interval := "100ms"
	if mode == "poll" {
		interval = "50ms"
	}
	g := startGateway(t, mtcConfig(t, url, mode, interval))
	if agent.hitsOf("probe") == 0 {
		t.Errorf("gateway.New did not read the agent's /probe (discovery at New)")
	}
	c := dialUA(t, g.Endpoint)
	defer g.Stop() // runs after the client closed: deferred calls run last-in first-out
	defer c.Close(context.Background())

	ids := mtcCheckTree(t, c, agent)
	mtcCheckUnits(t, c, ids[v.tags.spindle])
	mtcCheckReads(t, c, v.tags, ids)
	mtcCheckSubscription(t, c, ids[v.tags.spindle])

	stream, poll := agent.hitsOf("stream"), agent.hitsOf("poll")
	if (mode == "stream" && (stream == 0 || poll != 0)) || (mode == "poll" && (poll < 2 || stream != 0)) {
		t.Errorf("mode %s: the agent saw %d streaming and %d polling /sample requests", mode, stream, poll)
	}
}

// mtcLateAgent: the agent is not ready when the gateway starts (discovery at
// New fails); the background retry discovers the points and applies them as
// a reload, and the client then sees the tags and live values.
func mtcLateAgent(t *testing.T, v mtcVersion) {
	agent, url := mtcStartAgent(t, v)
	agent.mu.Lock()
	agent.failProbes = 1
	agent.mu.Unlock()
	g := startGateway(t, mtcConfig(t, url, "stream", "100ms"))
	c := dialUA(t, g.Endpoint)
	defer g.Stop()
	defer c.Close(context.Background())
	deadline := time.Now().Add(15 * time.Second)
	for range 1000 {
		if cell := childNamed(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder), "Cell1"); cell != nil {
			if lathe := childNamed(t, c, cell.NodeID.NodeID, "Lathe"); lathe != nil && len(browseTree(t, c, lathe.NodeID.NodeID)) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no auto tags under Objects/Cell1/Lathe 15s after a failed discovery at start (agent saw %d probes)", agent.hitsOf("probe"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := agent.hitsOf("probe"); n < 2 {
		t.Errorf("agent saw %d /probe requests, want the failed one and a retry", n)
	}
	ids := mtcCheckTree(t, c, agent)
	mtcCheckReads(t, c, v.tags, ids)
	mtcCheckSubscription(t, c, ids[v.tags.spindle])
}

// mtcCheckTree checks that Objects/Cell1/Lathe follows the component tree
// right after ready (discovery ran at New, not later in the background), and
// returns the NodeIds of the tags of agent.v.tags by path.
func mtcCheckTree(t *testing.T, c *opcua.Client, agent *mtcAgent) map[string]*ua.NodeID {
	t.Helper()
	cell := childNamed(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder), "Cell1")
	if cell == nil {
		t.Fatal("Objects/Cell1 missing")
	}
	lathe := childNamed(t, c, cell.NodeID.NodeID, "Lathe")
	if lathe == nil || lathe.NodeClass != ua.NodeClassObject {
		t.Fatalf("Objects/Cell1/Lathe missing or not a folder: %+v", lathe)
	}
	tree := browseTree(t, c, lathe.NodeID.NodeID)
	var vars []string
	for p, rd := range tree {
		if rd.NodeClass == ua.NodeClassVariable {
			vars = append(vars, p)
		}
	}
	// One variable per DataItem of the Device (not of the 2.x Agent).
	dev := agent.probe[bytes.Index(agent.probe, []byte("<Device ")):]
	if want := bytes.Count(dev, []byte("<DataItem ")); len(vars) != want {
		t.Fatalf("auto tags under Cell1/Lathe: %d variables, want one per DataItem of the device (%d); got %v", len(vars), want, vars)
	}
	for _, f := range agent.v.folders {
		if rd := tree[f]; rd == nil || rd.NodeClass != ua.NodeClassObject {
			t.Errorf("folder Cell1/Lathe/%s missing or not an object: %+v", f, rd)
		}
	}
	tg := agent.v.tags
	ids := map[string]*ua.NodeID{}
	for _, p := range []string{tg.spindle, tg.exec, tg.partCount, tg.warning, tg.fault, tg.unavailable} {
		rd := tree[p]
		if rd == nil || rd.NodeClass != ua.NodeClassVariable {
			t.Fatalf("variable Cell1/Lathe/%s missing: %+v", p, rd)
		}
		ids[p] = rd.NodeID.NodeID
		if want := "Cell1/Lathe/" + p; rd.NodeID.NodeID.StringID() != want {
			t.Errorf("NodeId of %s: %s, want s=%s", p, rd.NodeID.NodeID, want)
		}
	}
	return ids
}

// mtcCheckUnits checks the spindle speed's EngineeringUnits property: rpm.
func mtcCheckUnits(t *testing.T, c *opcua.Client, spindle *ua.NodeID) {
	t.Helper()
	var eu *ua.ReferenceDescription
	for _, rd := range browseRefs(t, c, spindle, id.HasProperty) {
		if rd.BrowseName.Name == "EngineeringUnits" {
			eu = rd
		}
	}
	if eu == nil {
		t.Errorf("spindle speed has no EngineeringUnits property")
		return
	}
	want, _ := mapping.Unit("rpm")
	dv := readAttrs(t, c, &ua.ReadValueID{NodeID: eu.NodeID.NodeID, AttributeID: ua.AttributeIDValue})[0]
	var info *ua.EUInformation
	if eo, ok := dv.Value.Value().(*ua.ExtensionObject); ok {
		info, _ = eo.Value.(*ua.EUInformation)
	}
	if info == nil || info.UnitID != want.UnitID || info.NamespaceURI != mapping.UnitsNamespace {
		t.Errorf("EngineeringUnits %#v, want UnitID %d (rpm)", dv.Value.Value(), want.UnitID)
	}
}

// mtcCheckReads reads every kind of tag once the first scan published:
// values, qualities, DataTypes and the agent's timestamps.
func mtcCheckReads(t *testing.T, c *opcua.Client, tg mtcTags, ids map[string]*ua.NodeID) {
	t.Helper()
	val := func(p string) *ua.ReadValueID {
		return &ua.ReadValueID{NodeID: ids[p], AttributeID: ua.AttributeIDValue}
	}
	typ := func(p string) *ua.ReadValueID {
		return &ua.ReadValueID{NodeID: ids[p], AttributeID: ua.AttributeIDDataType}
	}
	deadline := time.Now().Add(10 * time.Second)
	var r []*ua.DataValue
	for range 1000 {
		r = readAttrs(t, c, val(tg.spindle), val(tg.exec), val(tg.partCount), val(tg.warning), val(tg.fault), val(tg.unavailable),
			typ(tg.spindle), typ(tg.exec), typ(tg.partCount), typ(tg.warning), typ(tg.fault))
		if r[0].Status == ua.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mtcCheckSpindle(t, "read", r[0])
	checks := []struct {
		what   string
		dv     *ua.DataValue
		status ua.StatusCode
		value  any    // nil: not checked
		seq    uint64 // the observation's sequence (mtcVersions' common list); 0: not checked
	}{
		{"EVENT Execution", r[1], ua.StatusOK, "ACTIVE", 2},
		{"EVENT PartCount", r[2], ua.StatusOK, int32(7), 3},
		{"CONDITION Warning", r[3], ua.StatusUncertain, "Warning: Low lubricant", 4},
		{"CONDITION Fault", r[4], ua.StatusBadDeviceFailure, nil, 0},
		{"UNAVAILABLE sample", r[5], ua.StatusBadNoCommunication, nil, 0},
	}
	for _, ch := range checks {
		if ch.dv.Status != ch.status {
			t.Errorf("%s: status %v, want %v", ch.what, ch.dv.Status, ch.status)
		}
		if ch.value != nil && ch.dv.Value.Value() != ch.value {
			t.Errorf("%s: value %#v, want %#v", ch.what, ch.dv.Value.Value(), ch.value)
		}
		if ch.seq != 0 && !ch.dv.SourceTimestamp.Equal(mtcAgentTime(ch.seq)) {
			t.Errorf("%s: SourceTimestamp %v, want the agent's %v", ch.what, ch.dv.SourceTimestamp, mtcAgentTime(ch.seq))
		}
	}
	if got := r[5].Value.Value(); got == "UNAVAILABLE" {
		t.Errorf("UNAVAILABLE sample has the value %q, want no value", got)
	}
	// docs/mtconnect.md shows a Fault as the value "Fault: <message>"; the
	// tag layer keeps the previous value under a Bad quality (DESIGN.md 7),
	// so a client reading a Fault that was never preceded by a Good value
	// sees no value. Either is accepted; nothing else is.
	if got := r[4].Value.Value(); got != nil && !strings.HasPrefix(fmt.Sprint(got), "Fault: ") {
		t.Errorf("CONDITION Fault: value %#v, want none or \"Fault: <message>\"", got)
	}
	for i, want := range []struct {
		what string
		id   uint32
	}{{"SAMPLE spindle speed", id.Double}, {"EVENT Execution", id.String}, {"EVENT PartCount", id.Int32},
		{"CONDITION Warning", id.String}, {"CONDITION Fault", id.String}} {
		if dt, ok := r[6+i].Value.Value().(*ua.NodeID); !ok || dt.IntID() != want.id {
			t.Errorf("DataType of %s: %v, want i=%d", want.what, r[6+i].Value.Value(), want.id)
		}
	}
}

// mtcCheckSubscription subscribes to the spindle speed: several changing
// values in the agent's order, each with the agent's timestamp.
func mtcCheckSubscription(t *testing.T, c *opcua.Client, spindle *ua.NodeID) {
	t.Helper()
	sub, ch := subscribe(t, c, opcua.NewMonitoredItemCreateRequestWithDefaults(spindle, ua.AttributeIDValue, 1))
	defer sub.Cancel(context.Background())
	var got []float64
	eachChange(t, ch, 15*time.Second, func() bool { return len(got) >= 6 },
		func() string { return fmt.Sprintf("the client saw spindle speeds %v, want 6 changing values", got) },
		func(it *ua.MonitoredItemNotification) {
			f := mtcCheckSpindle(t, "notification", it.Value)
			if len(got) > 0 && f <= got[len(got)-1] {
				t.Errorf("spindle speed %v after %v: values must follow the agent's sequence", f, got[len(got)-1])
			}
			got = append(got, f)
		})
	t.Logf("spindle speeds seen: %v", got)
}

// mtcCheckSpindle checks a spindle speed value: Good, a Double the agent
// sent, and the agent's timestamp of that observation as SourceTimestamp.
func mtcCheckSpindle(t *testing.T, what string, dv *ua.DataValue) float64 {
	t.Helper()
	f, ok := dv.Value.Value().(float64)
	if dv.Status != ua.StatusOK || !ok {
		t.Fatalf("%s spindle speed: %v %#v, want Good and a Double", what, dv.Status, dv.Value.Value())
	}
	seq := uint64(f - 1000)
	if f < 1000 || mtcSpeed(seq) != f {
		t.Fatalf("%s spindle speed %v: not a value the agent sent", what, f)
	}
	if want := mtcAgentTime(seq); !dv.SourceTimestamp.Equal(want) {
		t.Errorf("%s spindle speed %v: SourceTimestamp %v, want the agent's timestamp %v (ServerTimestamp %v)",
			what, f, dv.SourceTimestamp, want, dv.ServerTimestamp)
	}
	if dv.ServerTimestamp.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("%s spindle speed: ServerTimestamp %v is not the gateway's time", what, dv.ServerTimestamp)
	}
	return f
}
