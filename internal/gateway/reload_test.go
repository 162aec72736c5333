package gateway

// Hot reload (issue 5, point 4) through Gateway.Reload, watched by a real
// OPC UA client: unchanged devices keep their connection and subscriptions,
// changed ones restart, removed tags vanish, added ones appear, NodeIds stay,
// and an invalid config changes nothing.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// relNotes counts data changes of one monitored item.
type relNotes struct {
	mu     sync.Mutex
	n      int
	errs   []error
	values []any
}

func (r *relNotes) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// relSubscribe monitors path and counts its data changes until the end of
// the test.
func relSubscribe(t *testing.T, c *opcua.Client, path string) *relNotes {
	t.Helper()
	_, ch := subscribe(t, c, opcua.NewMonitoredItemCreateRequestWithDefaults(tagNode(path), ua.AttributeIDValue, 1))
	r := &relNotes{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case n := <-ch:
				r.mu.Lock()
				if n.Error != nil {
					r.errs = append(r.errs, n.Error)
				} else if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
					for _, it := range dc.MonitoredItems {
						r.n++
						if it.Value != nil && it.Value.Value != nil {
							r.values = append(r.values, it.Value.Value.Value())
						}
					}
				}
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return r
}

// relBrowse lists the NodeIds organized under the folder at path.
func relBrowse(t *testing.T, c *opcua.Client, path string) []string {
	t.Helper()
	var ids []string
	for _, r := range browseRefs(t, c, tagNode(path), id.Organizes) {
		ids = append(ids, r.NodeID.NodeID.String())
	}
	slices.Sort(ids)
	return ids
}

func TestRelHotReload(t *testing.T) {
	t.Parallel()
	srvA, srvB := startCountingPLC(t), startCountingPLC(t)
	pxA := mbtest.StartProxy(t, srvA.Addr) // counts devA's connections
	devA := relDevice("devA", pxA.Addr, "100ms", "", "")
	devB1 := relDevice("devB", srvB.Addr, "100ms", "", "", `{ name: Old, address: "hr:2", type: uint16 }`)
	devB2 := relDevice("devB", srvB.Addr, "200ms", "", "", `{ name: New, address: "hr:3", type: uint16 }`)
	g := startGateway(t, relConfig(devA, devB1))
	g.waitGood(t, 10*time.Second, "devA/Counter", "devB/Counter", "devB/Old")

	c := dialUA(t, g.Endpoint)
	if ns := findNS(t, c, "urn:tagbridge:reltest"); ns != 1 {
		t.Fatalf("application namespace: %d, want 1", ns)
	}
	idsA := relBrowse(t, c, "devA")
	notes := relSubscribe(t, c, "devA/Counter")
	waitUntil(t, 10*time.Second, func() bool { return notes.count() >= 3 }, func() string { return "3 notifications before the reload" })

	// devA is sampled all through the reload: it must never leave Good.
	watch := g.watchGood(t, "devA/Counter", 10*time.Millisecond)

	acceptedA, readsA := pxA.Accepted(), srvA.Reads()
	reconnA := relStatusOf(t, g, "devA").Reconns
	notesBefore := notes.count()
	if err := g.Reload(context.Background(), parseConfig(t, relConfig(devA, devB2))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitUntil(t, 10*time.Second, func() bool { return notes.count() >= notesBefore+5 },
		func() string {
			return fmt.Sprintf("5 more notifications on devA/Counter after the reload (%d)", notes.count()-notesBefore)
		})
	waitUntil(t, 10*time.Second, func() bool { return srvA.Reads() >= readsA+5 }, func() string { return "devA keeps polling" })
	for q, n := range watch() {
		t.Errorf("devA/Counter was %s in %d samples across the reload of another device", q, n)
	}
	if got := pxA.Accepted(); got != acceptedA {
		t.Errorf("devA opened %d new connections across the reload, want 0 (unchanged devices keep theirs)", got-acceptedA)
	}
	if st := relStatusOf(t, g, "devA"); st.Reconns != reconnA || st.State != "up" {
		t.Errorf("devA after the reload: %+v, want up with %d reconnects", st, reconnA)
	}
	var restarted []string
	for _, l := range strings.Split(g.Logs.String(), "\n") {
		if strings.Contains(l, "device config changed, restarting") {
			restarted = append(restarted, l)
		}
	}
	if len(restarted) != 1 || !strings.Contains(restarted[0], "device=devB") {
		t.Errorf("reload log: want one restart line, for devB; got %q", restarted)
	}

	// The removed tag is gone, the added one is served, unchanged NodeIds stay.
	waitUntil(t, 10*time.Second, func() bool {
		res := readTags(t, c, "devB/New")
		return statusOf(res[0]) == ua.StatusOK
	}, func() string { return "the added tag devB/New reads Good" })
	res := readTags(t, c, "devB/Old", "devB/Counter", "devA/Counter")
	if statusOf(res[0]) != ua.StatusBadNodeIDUnknown {
		t.Errorf("removed tag devB/Old: %v, want BadNodeIdUnknown", statusOf(res[0]))
	}
	if statusOf(res[2]) != ua.StatusOK {
		t.Errorf("unchanged tag devA/Counter: %v, want Good", statusOf(res[2]))
	}
	if g.store.Lookup("devB/Old") != nil {
		t.Errorf("the store still holds the removed tag devB/Old")
	}
	if after := relBrowse(t, c, "devA"); !slices.Equal(after, idsA) {
		t.Errorf("devA's NodeIds changed across the reload:\nbefore %v\nafter  %v", idsA, after)
	}
	if b := relBrowse(t, c, "devB"); !slices.Contains(b, "ns=1;s=devB/New") || slices.Contains(b, "ns=1;s=devB/Old") {
		t.Errorf("devB's folder after the reload: %v", b)
	}
	relInvalidReload(t, g, c, notes, pxA, devA, devB2)
}

// relInvalidReload: a reload with several mistakes returns every one of
// them and changes nothing.
func relInvalidReload(t *testing.T, g *testGateway, c *opcua.Client, notes *relNotes, pxA *mbtest.Proxy, devA, devB string) {
	t.Helper()
	bad := relConfig(devA, devB,
		relDevice("devA", "127.0.0.1:1", "100ms", "", ""), // duplicate name
		relDevice("devC", "127.0.0.1:1", "100ms", ", transport: carrier-pigeon", "",
			`{ name: T, address: "hr:9", type: flaot32 }`))
	cfg, perr := config.Parse([]byte(bad), "reltest.yaml")
	if cfg == nil {
		t.Fatalf("parse: %v", perr)
	}
	g.mu.Lock()
	tblBefore := g.tbl
	g.mu.Unlock()
	accepted := pxA.Accepted()

	err := g.Reload(context.Background(), cfg)
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("invalid reload: %v, want config.Errors", err)
	}
	t.Logf("invalid reload rejected with %d errors:\n%v", len(errs), err)
	for _, want := range []string{"devices[2].name", "devices[3].tags[2].type", "transport"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("invalid reload: the errors do not mention %q:\n%v", want, err)
		}
	}
	g.mu.Lock()
	same := g.tbl == tblBefore
	g.mu.Unlock()
	if !same {
		t.Errorf("an invalid reload replaced the tag table")
	}
	if names := relDeviceNames(g); !slices.Equal(names, []string{"devA", "devB"}) {
		t.Errorf("devices after an invalid reload: %v, want [devA devB]", names)
	}
	n := notes.count()
	waitUntil(t, 10*time.Second, func() bool { return notes.count() >= n+3 }, func() string { return "notifications after the invalid reload" })
	res := readTags(t, c, "devA/Counter", "devB/New", "devC/T")
	if statusOf(res[0]) != ua.StatusOK || statusOf(res[1]) != ua.StatusOK || statusOf(res[2]) != ua.StatusBadNodeIDUnknown {
		t.Errorf("after the invalid reload: devA/Counter %v, devB/New %v, devC/T %v", statusOf(res[0]), statusOf(res[1]), statusOf(res[2]))
	}
	if got := pxA.Accepted(); got != accepted {
		t.Errorf("an invalid reload reconnected devA (%d new connections)", got-accepted)
	}
}

func relDeviceNames(g *testGateway) []string {
	var names []string
	for _, s := range g.sched.Status() {
		names = append(names, s.Name)
	}
	return names
}
