package gateway

// A small fake MTConnect agent (httptest) for the end-to-end test in
// mtconnect_e2e_test.go: it streams a new spindle speed every mtcTick with
// agent timestamps in 2025, so the client can tell them from the gateway's
// read times.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
