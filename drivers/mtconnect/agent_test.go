package mtconnect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// fakeAgent is an MTConnect agent on 127.0.0.1:0 serving documents the test
// sets. Handlers for /sample are functions so each test scripts its agent.
type fakeAgent struct {
	srv *httptest.Server

	mu      sync.Mutex
	probe   string
	current string
	status  map[string]int // HTTP status per op (default 200)
	// sample answers /sample; stream is set for requests with interval=.
	sample func(w http.ResponseWriter, r *http.Request, from uint64)
	stream func(w http.ResponseWriter, r *http.Request, from uint64)
	hits   map[string]int
	paths  []string
}

func newAgent(t *testing.T, probe, current string) *fakeAgent {
	t.Helper()
	a := &fakeAgent{probe: probe, current: current, hits: map[string]int{}, status: map[string]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	from, _ := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	a.mu.Lock()
	a.hits[op]++
	a.paths = append(a.paths, r.URL.Path)
	status := a.status[op]
	probe, current, sample, stream := a.probe, a.current, a.sample, a.stream
	a.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	switch op {
	case "probe":
		writeXML(w, status, probe)
	case "current":
		writeXML(w, status, current)
	case "sample":
		if r.URL.Query().Get("interval") != "" && stream != nil {
			stream(w, r, from)
			return
		}
		if sample != nil {
			sample(w, r, from)
			return
		}
		writeXML(w, http.StatusOK, emptySample(current, from))
	default:
		http.NotFound(w, r)
	}
}

func (a *fakeAgent) set(f func(a *fakeAgent)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *fakeAgent) hit(op string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[op]
}

func writeXML(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(doc))
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// headerOf returns the instanceId of a document (tests keep one per doc).
func instanceOf(doc string) string {
	_, rest, _ := strings.Cut(doc, `instanceId="`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// emptySample is a /sample answer with no observations: nothing new since from.
func emptySample(current string, from uint64) string {
	return streamsXML(instanceOf(current), 1, from, "")
}

// streamsXML builds an MTConnectStreams document (1.3 namespace) with the
// given observation elements in one ComponentStream.
func streamsXML(instance string, first, next uint64, body string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:1.3">
<Header creationTime="2026-11-26T10:00:09Z" sender="fake" instanceId="%s" version="1.3.0" bufferSize="131072" nextSequence="%d" firstSequence="%d" lastSequence="%d"/>
<Streams><DeviceStream name="Lathe1" uuid="lathe-001"><ComponentStream component="Linear" name="X" componentId="x1">%s</ComponentStream></DeviceStream></Streams>
</MTConnectStreams>`, instance, next, first, next-1, body)
}

func xact(seq uint64, v string) string {
	return fmt.Sprintf(`<Samples><Position dataItemId="Xact" timestamp="2026-11-26T10:00:%02d.000000Z" sequence="%d" subType="ACTUAL">%s</Position></Samples>`, seq%60, seq, v)
}

func errorXML(code, msg string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.3">
<Header creationTime="2026-11-26T10:00:05Z" sender="fake" instanceId="1700000001" version="1.3.0" bufferSize="131072"/>
<Errors><Error errorCode="%s">%s</Error></Errors></MTConnectError>`, code, msg)
}

// multipartWriter writes a stream the way cppagent does: each part with
// Content-type and Content-length, flushed at once.
type multipartWriter struct {
	w        http.ResponseWriter
	boundary string
}

func startStream(w http.ResponseWriter, ctype string) *multipartWriter {
	const boundary = "a9b8c7d6e5f4"
	w.Header().Set("Content-Type", ctype+"; boundary="+boundary)
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	return &multipartWriter{w: w, boundary: boundary}
}

func (m *multipartWriter) part(doc string) error {
	_, err := fmt.Fprintf(m.w, "--%s\r\nContent-type: text/xml\r\nContent-length: %d\r\n\r\n%s\r\n", m.boundary, len(doc), doc)
	m.w.(http.Flusher).Flush()
	return err
}

// openDev opens a device on the fake agent; it is closed at the end of the test.
func openDev(t *testing.T, a *fakeAgent, opts map[string]any) *device {
	t.Helper()
	o := map[string]any{"url": a.srv.URL, "interval": "10ms", "timeout": "2s"}
	for k, v := range opts {
		o[k] = v
	}
	dev, err := Driver{}.Open(context.Background(), "m1", o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = dev.Close() })
	return dev.(*device)
}

// read reads addrs once.
func read(t *testing.T, d *device, addrs ...drivers.Address) ([]drivers.Sample, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := make([]drivers.Sample, len(addrs))
	err := d.Read(ctx, addrs, out)
	return out, err
}

// waitFor reads until cond holds (bounded: 10 s, then the test fails).
func waitFor(t *testing.T, d *device, what string, cond func(s Stats, out []drivers.Sample, err error) bool, addrs ...drivers.Address) []drivers.Sample {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := read(t, d, addrs...)
		if cond(d.Stats(), out, err) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last read %+v err %v stats %+v", what, out, err, d.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ad(addr string, typ drivers.Type) drivers.Address {
	return drivers.Address{Tag: addr, Addr: addr, Type: typ}
}
