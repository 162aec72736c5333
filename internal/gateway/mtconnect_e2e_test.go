package gateway

// End to end: a fake MTConnect agent (httptest) -> the gateway with an
// `mtconnect` device and `auto: true` -> an OPC UA client (gopcua). The
// agent streams a new spindle speed every mtcTick with agent timestamps in
// 2025, so the client can tell them from the gateway's read times.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/config"
	_ "github.com/tagbridge/tagbridge/drivers/mtconnect" // registers the driver
	"github.com/tagbridge/tagbridge/mapping"
)

// mtcTick is the agent's spindle speed period.
const mtcTick = 100 * time.Millisecond

// mtcBase is the agent's clock: observation seq is timestamped mtcBase +
// seq*mtcTick, far from the wall clock of any test run.
var mtcBase = time.Date(2025, 3, 14, 6, 0, 0, 0, time.UTC)

func mtcAgentTime(seq uint64) time.Time { return mtcBase.Add(time.Duration(seq) * mtcTick) }

// mtcSpeed is the spindle speed of observation seq (so seq = speed - 1000).
func mtcSpeed(seq uint64) float64 { return 1000 + float64(seq) }

// mtcObs is one observation the agent serves.
type mtcObs struct {
	compType, compID, compName string
	kind                       string // Samples, Events or Condition
	elem, id, attrs, text      string
}

// mtcTags are the auto tag paths (under the device folder) the gateway must
// build from a probe.
type mtcTags struct{ spindle, exec, partCount, warning, fault, unavailable string }

// mtcVersion is one MTConnect version the agent speaks.
type mtcVersion struct {
	name, probe, schema, version, device, uuid, instance string
	static                                               []mtcObs // sequences 1..len(static)
	spindle                                              mtcObs   // every later sequence
	tags                                                 mtcTags
	folders                                              []string
}

func (v mtcVersion) firstSpin() uint64 { return uint64(len(v.static)) + 1 }

func mtcVersions() []mtcVersion {
	path := func(k, e, id, a, text string) mtcObs {
		return mtcObs{"Path", "path1", "", k, e, id, a, text}
	}
	rotary := func(k, e, id, a, text string) mtcObs {
		return mtcObs{"Rotary", "c1", "C", k, e, id, a, text}
	}
	common := func(device string) []mtcObs {
		return []mtcObs{
			{"Device", "d1", device, "Events", "Availability", "avail", "", "AVAILABLE"},
			path("Events", "Execution", "exec", "", "ACTIVE"),
			path("Events", "PartCount", "pc", "", "7"),
			{"Controller", "cont", "", "Condition", "Warning", "logic", ` type="LOGIC_PROGRAM" nativeCode="2001"`, "Low lubricant"},
			rotary("Samples", "Temperature", "Stemp", "", "UNAVAILABLE"),
			path("Events", "ControllerMode", "mode", "", "AUTOMATIC"),
		}
	}
	return []mtcVersion{{
		name: "2.2", probe: "v2.2/probe.xml", schema: "2.2", version: "2.2.0.17",
		device: "Lathe2", uuid: "lathe-002", instance: "1800000002",
		static: append(common("Lathe2"),
			rotary("Condition", "Fault", "Scond", ` type="SYSTEM" nativeCode="S100"`, "Spindle overload")),
		spindle: rotary("Samples", "RotaryVelocity", "Sspeed", ` name="Spindle_Speed" subType="ACTUAL"`, ""),
		tags: mtcTags{
			spindle: "Axes/Rotary[C]/Spindle_Speed", exec: "Controller/Path/Execution",
			partCount: "Controller/Path/PartCount[All]", warning: "Controller/LogicProgram",
			fault: "Axes/Rotary[C]/System", unavailable: "Axes/Rotary[C]/Temperature",
		},
		folders: []string{"Axes", "Axes/Linear[X]", "Axes/Linear[Z]", "Axes/Rotary[C]", "Controller", "Controller/Path", "Systems", "Systems/Electric"},
	}, {
		name: "1.3", probe: "v1.3/probe.xml", schema: "1.3", version: "1.3.0.18",
		device: "Lathe1", uuid: "lathe-001", instance: "1700000001",
		static: append(common("Lathe1"),
			path("Condition", "Fault", "motion", ` type="MOTION_PROGRAM" nativeCode="M12"`, "Overtravel")),
		spindle: rotary("Samples", "SpindleSpeed", "Sspeed", ` name="Spindle_Speed" subType="ACTUAL"`, ""),
		tags: mtcTags{
			spindle: "Axes[base]/Rotary[C]/Spindle_Speed", exec: "Controller/Path/execution",
			partCount: "Controller/Path/PartCount", warning: "Controller/logic_cond",
			fault: "Controller/Path/motion_cond", unavailable: "Axes[base]/Rotary[C]/Spindle_Temp",
		},
		folders: []string{"Axes[base]", "Axes[base]/Linear[X]", "Axes[base]/Linear[Z]", "Axes[base]/Rotary[C]", "Controller", "Controller/Path"},
	}}
}

// mtcAgent is a small MTConnect agent: /probe from the driver's testdata,
// /current, and /sample polled (from, count) or streamed (interval,
// heartbeat: multipart/x-mixed-replace, chunked, one document per part).
// Sequences are a function of the time since start, so no goroutine of its
// own produces them.
type mtcAgent struct {
	v     mtcVersion
	probe []byte
	start time.Time
	stop  chan struct{} // closed at cleanup: ends every stream

	mu         sync.Mutex
	hits       map[string]int // probe, current, poll, stream
	failProbes int            // answer that many /probe requests with 503 first
}

func (a *mtcAgent) hit(kind string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hits[kind]++
}

func (a *mtcAgent) hitsOf(kind string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[kind]
}

// last is the agent's last sequence now (bounded, however long a run takes).
func (a *mtcAgent) last() uint64 {
	return a.v.firstSpin() + min(uint64(time.Since(a.start)/mtcTick), 1<<20)
}

func (a *mtcAgent) obs(seq uint64) mtcObs {
	if seq < a.v.firstSpin() {
		return a.v.static[seq-1]
	}
	o := a.v.spindle
	o.text = strconv.FormatFloat(mtcSpeed(seq), 'f', -1, 64)
	return o
}

// doc is an MTConnectStreams document of the observations seqs, grouped by
// component as agents do.
func (a *mtcAgent) doc(seqs []uint64, next, last uint64) []byte {
	type group struct {
		o     mtcObs
		kinds map[string]*strings.Builder
	}
	var order []*group
	byComp := map[string]*group{}
	for _, seq := range seqs {
		o := a.obs(seq)
		g := byComp[o.compID]
		if g == nil {
			g = &group{o: o, kinds: map[string]*strings.Builder{}}
			byComp[o.compID] = g
			order = append(order, g)
		}
		b := g.kinds[o.kind]
		if b == nil {
			b = &strings.Builder{}
			g.kinds[o.kind] = b
		}
		ts := mtcAgentTime(seq).Format("2006-01-02T15:04:05.000000Z")
		if o.text == "" {
			fmt.Fprintf(b, `<%s dataItemId="%s" sequence="%d" timestamp="%s"%s/>`, o.elem, o.id, seq, ts, o.attrs)
		} else {
			fmt.Fprintf(b, `<%s dataItemId="%s" sequence="%d" timestamp="%s"%s>%s</%s>`, o.elem, o.id, seq, ts, o.attrs, o.text, o.elem)
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectStreams xmlns:m="urn:mtconnect.org:MTConnectStreams:%[1]s" xmlns="urn:mtconnect.org:MTConnectStreams:%[1]s">
<Header creationTime="%[2]s" sender="mtc-e2e" instanceId="%[3]s" version="%[4]s" bufferSize="131072" nextSequence="%[5]d" firstSequence="1" lastSequence="%[6]d"/>
<Streams><DeviceStream name="%[7]s" uuid="%[8]s">`,
		a.v.schema, mtcAgentTime(last).Format(time.RFC3339), a.v.instance, a.v.version, next, last, a.v.device, a.v.uuid)
	for _, g := range order {
		name := ""
		if g.o.compName != "" {
			name = fmt.Sprintf(` name="%s"`, g.o.compName)
		}
		fmt.Fprintf(&b, `<ComponentStream component="%s" componentId="%s"%s>`, g.o.compType, g.o.compID, name)
		for _, k := range []string{"Samples", "Events", "Condition"} {
			if kb := g.kinds[k]; kb != nil {
				fmt.Fprintf(&b, "<%s>%s</%s>", k, kb.String(), k)
			}
		}
		b.WriteString("</ComponentStream>")
	}
	b.WriteString("</DeviceStream></Streams></MTConnectStreams>\n")
	return b.Bytes()
}

func mtcRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func (a *mtcAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dev, op, ok := strings.Cut(strings.Trim(r.URL.Path, "/"), "/")
	if !ok {
		dev, op = "", dev
	}
	if dev != "" && dev != a.v.device && dev != a.v.uuid {
		http.Error(w, "no such device", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	num := func(k string, def uint64) uint64 {
		if n, err := strconv.ParseUint(q.Get(k), 10, 64); err == nil {
			return n
		}
		return def
	}
	w.Header().Set("Content-Type", "text/xml")
	switch op {
	case "probe":
		a.hit("probe")
		a.mu.Lock()
		fail := a.failProbes > 0
		a.failProbes--
		a.mu.Unlock()
		if fail {
			http.Error(w, "agent starting", http.StatusServiceUnavailable)
			return
		}
		w.Write(a.probe)
	case "current":
		a.hit("current")
		last := a.last()
		w.Write(a.doc(append(mtcRange(1, a.v.firstSpin()-1), last), last+1, last))
	case "sample":
		from, count := max(num("from", 1), 1), max(num("count", 100), 1)
		if q.Has("interval") {
			a.hit("stream")
			a.stream(w, r, from, count, time.Duration(max(num("interval", 100), 1))*time.Millisecond,
				time.Duration(max(num("heartbeat", 10000), 10))*time.Millisecond)
			return
		}
		a.hit("poll")
		last := a.last()
		to := min(last, from+count-1)
		w.Write(a.doc(mtcRange(from, to), max(to+1, from), last))
	default:
		http.NotFound(w, r)
	}
}

// stream pushes a part whenever new observations exist, an empty part after
// heartbeat of silence, until the client leaves, the agent stops, or a
// minute passed.
func (a *mtcAgent) stream(w http.ResponseWriter, r *http.Request, next, count uint64, interval, heartbeat time.Duration) {
	const boundary = "mtc-e2e-7f3a9c"
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary="+boundary)
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	end := time.NewTimer(time.Minute)
	defer end.Stop()
	quiet := time.Now()
	for range 10000 {
		last := a.last()
		var body []byte
		switch {
		case next <= last:
			to := min(last, next+count-1)
			body = a.doc(mtcRange(next, to), to+1, last)
			next = to + 1
		case time.Since(quiet) >= heartbeat:
			body = a.doc(nil, next, last)
		}
		if body != nil {
			fmt.Fprintf(w, "--%s\r\nContent-type: text/xml\r\nContent-length: %d\r\n\r\n", boundary, len(body))
			w.Write(body)
			if _, err := io.WriteString(w, "\r\n"); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			quiet = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.stop:
			return
		case <-end.C:
			return
		case <-tick.C:
		}
	}
}

func mtcStartAgent(t *testing.T, v mtcVersion) (*mtcAgent, string) {
	t.Helper()
	probe, err := os.ReadFile(filepath.Join("..", "..", "drivers", "mtconnect", "testdata", filepath.FromSlash(v.probe)))
	if err != nil {
		t.Fatal(err)
	}
	a := &mtcAgent{v: v, probe: probe, start: time.Now(), stop: make(chan struct{}), hits: map[string]int{}}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		close(a.stop)
		srv.CloseClientConnections()
		srv.Close()
	})
	return a, srv.URL
}

// mtcLogs collects the gateway's log for a failing test.
type mtcLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *mtcLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *mtcLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mtcRunGateway builds the gateway from YAML, runs it and returns its
// endpoint and a stop function (also run at cleanup) that cancels Run and
// checks that it returned nil in time.
func mtcRunGateway(t *testing.T, yaml string) (string, func()) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "mtc-e2e.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	logs := &mtcLogs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs)
		}
	})
	newCtx, cancelNew := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelNew()
	gw, err := New(newCtx, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "e2e"})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx, func(ep string) { ready <- ep }) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("gateway Run returned %v after cancel, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("gateway Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case ep := <-ready:
		return ep, stop
	case err := <-done:
		t.Fatalf("gateway Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not become ready within 10s")
	}
	return "", stop
}

func mtcConnect(t *testing.T, endpoint string) *opcua.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := opcua.NewClient(endpoint, opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false), opcua.RequestTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	return c
}

func mtcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mtcBrowse lists the forward references of type ref of node n.
func mtcBrowse(t *testing.T, c *opcua.Client, n *ua.NodeID, ref uint32) []*ua.ReferenceDescription {
	t.Helper()
	res, err := c.Browse(mtcCtx(t), &ua.BrowseRequest{
		View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)},
		NodesToBrowse: []*ua.BrowseDescription{{
			NodeID: n, BrowseDirection: ua.BrowseDirectionForward, ReferenceTypeID: ua.NewNumericNodeID(0, ref),
			IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll),
		}},
	})
	if err != nil {
		t.Fatalf("browse %s: %v", n, err)
	}
	if len(res.Results) != 1 || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("browse %s: %+v", n, res.Results)
	}
	refs, cp := res.Results[0].References, res.Results[0].ContinuationPoint
	for i := 0; len(cp) > 0 && i < 100; i++ {
		next, err := c.BrowseNext(mtcCtx(t), &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
		if err != nil {
			t.Fatalf("browse next %s: %v", n, err)
		}
		refs, cp = append(refs, next.Results[0].References...), next.Results[0].ContinuationPoint
	}
	return refs
}

// mtcChild is the node named name under n, or nil.
func mtcChild(t *testing.T, c *opcua.Client, n *ua.NodeID, name string) *ua.ReferenceDescription {
	for _, rd := range mtcBrowse(t, c, n, id.HierarchicalReferences) {
		if rd.BrowseName.Name == name {
			return rd
		}
	}
	return nil
}

// mtcTree walks the folders under root: every node by its path below root.
func mtcTree(t *testing.T, c *opcua.Client, root *ua.NodeID) map[string]*ua.ReferenceDescription {
	t.Helper()
	out := map[string]*ua.ReferenceDescription{}
	type item struct {
		path string
		id   *ua.NodeID
	}
	queue := []item{{"", root}}
	for len(queue) > 0 && len(out) < 2000 {
		it := queue[0]
		queue = queue[1:]
		for _, rd := range mtcBrowse(t, c, it.id, id.HierarchicalReferences) {
			p := path.Join(it.path, rd.BrowseName.Name)
			out[p] = rd
			if rd.NodeClass == ua.NodeClassObject {
				queue = append(queue, item{p, rd.NodeID.NodeID})
			}
		}
	}
	return out
}

func mtcRead(t *testing.T, c *opcua.Client, rvs ...*ua.ReadValueID) []*ua.DataValue {
	t.Helper()
	res, err := c.Read(mtcCtx(t), &ua.ReadRequest{NodesToRead: rvs, TimestampsToReturn: ua.TimestampsToReturnBoth})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(res.Results) != len(rvs) {
		t.Fatalf("read: %d results for %d nodes", len(res.Results), len(rvs))
	}
	return res.Results
}

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
	endpoint, stop := mtcRunGateway(t, mtcConfig(t, url, mode, interval))
	if agent.hitsOf("probe") == 0 {
		t.Errorf("gateway.New did not read the agent's /probe (discovery at New)")
	}
	c := mtcConnect(t, endpoint)
	defer stop() // runs after the client closed: deferred calls run last-in first-out
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
	endpoint, stop := mtcRunGateway(t, mtcConfig(t, url, "stream", "100ms"))
	c := mtcConnect(t, endpoint)
	defer stop()
	defer c.Close(context.Background())
	deadline := time.Now().Add(15 * time.Second)
	for range 1000 {
		if cell := mtcChild(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder), "Cell1"); cell != nil {
			if lathe := mtcChild(t, c, cell.NodeID.NodeID, "Lathe"); lathe != nil && len(mtcTree(t, c, lathe.NodeID.NodeID)) > 0 {
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
	cell := mtcChild(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder), "Cell1")
	if cell == nil {
		t.Fatal("Objects/Cell1 missing")
	}
	lathe := mtcChild(t, c, cell.NodeID.NodeID, "Lathe")
	if lathe == nil || lathe.NodeClass != ua.NodeClassObject {
		t.Fatalf("Objects/Cell1/Lathe missing or not a folder: %+v", lathe)
	}
	tree := mtcTree(t, c, lathe.NodeID.NodeID)
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
	for _, rd := range mtcBrowse(t, c, spindle, id.HasProperty) {
		if rd.BrowseName.Name == "EngineeringUnits" {
			eu = rd
		}
	}
	if eu == nil {
		t.Errorf("spindle speed has no EngineeringUnits property")
		return
	}
	want, _ := mapping.Unit("rpm")
	dv := mtcRead(t, c, &ua.ReadValueID{NodeID: eu.NodeID.NodeID, AttributeID: ua.AttributeIDValue})[0]
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
		r = mtcRead(t, c, val(tg.spindle), val(tg.exec), val(tg.partCount), val(tg.warning), val(tg.fault), val(tg.unavailable),
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
	ch := make(chan *opcua.PublishNotificationData, 64)
	sub, err := c.Subscribe(mtcCtx(t), &opcua.SubscriptionParameters{Interval: 50 * time.Millisecond}, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel(context.Background())
	res, err := sub.Monitor(mtcCtx(t), ua.TimestampsToReturnBoth, opcua.NewMonitoredItemCreateRequestWithDefaults(spindle, ua.AttributeIDValue, 1))
	if err != nil || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("monitor spindle speed: %v %+v", err, res)
	}
	var got []float64
	timeout := time.After(15 * time.Second)
	for len(got) < 6 {
		select {
		case <-timeout:
			t.Fatalf("after 15s the client saw spindle speeds %v, want 6 changing values", got)
		case n := <-ch:
			if n.Error != nil {
				t.Fatalf("publish: %v", n.Error)
			}
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, it := range dc.MonitoredItems {
				f := mtcCheckSpindle(t, "notification", it.Value)
				if len(got) > 0 && f <= got[len(got)-1] {
					t.Errorf("spindle speed %v after %v: values must follow the agent's sequence", f, got[len(got)-1])
				}
				got = append(got, f)
			}
		}
	}
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
