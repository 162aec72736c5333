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
	"github.com/tagbridge/tagbridge/drivers"
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
	ch := make(chan *opcua.PublishNotificationData, 64)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: 50 * time.Millisecond}, ch)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, opcua.NewMonitoredItemCreateRequestWithDefaults(relNode(path), ua.AttributeIDValue, 1))
	if err != nil || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("monitor %s: %v %+v", path, err, res)
	}
	r := &relNotes{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
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
		cancel()
		<-done
	})
	return r
}

// relBrowse lists the NodeIds organized under the folder at path.
func relBrowse(t *testing.T, c *opcua.Client, path string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Browse(ctx, &ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{
		NodeID: relNode(path), BrowseDirection: ua.BrowseDirectionForward,
		ReferenceTypeID: ua.NewNumericNodeID(0, id.Organizes), IncludeSubtypes: true,
		ResultMask: uint32(ua.BrowseResultMaskAll),
	}}})
	if err != nil || len(res.Results) != 1 || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("browse %s: %v %+v", path, err, res)
	}
	var ids []string
	for _, r := range res.Results[0].References {
		ids = append(ids, r.NodeID.NodeID.String())
	}
	slices.Sort(ids)
	return ids
}

func TestRelHotReload(t *testing.T) {
	t.Parallel()
	srvA, srvB := relStartServer(t), relStartServer(t)
	pxA := relStartProxy(t, srvA.Addr) // counts devA's connections
	devA := relDevice("devA", pxA.Addr, "100ms", "", "")
	devB1 := relDevice("devB", srvB.Addr, "100ms", "", "", `{ name: Old, address: "hr:2", type: uint16 }`)
	devB2 := relDevice("devB", srvB.Addr, "200ms", "", "", `{ name: New, address: "hr:3", type: uint16 }`)
	g := relStart(t, relConfig(devA, devB1))
	g.relGood(t, 10*time.Second, "devA/Counter", "devB/Counter", "devB/Old")

	c := relClient(t, g.Endpoint)
	if ns, err := c.FindNamespace(context.Background(), "urn:tagbridge:reltest"); err != nil || ns != 1 {
		t.Fatalf("application namespace: %d %v, want 1", ns, err)
	}
	idsA := relBrowse(t, c, "devA")
	notes := relSubscribe(t, c, "devA/Counter")
	relWait(t, 10*time.Second, func() bool { return notes.count() >= 3 }, func() string { return "3 notifications before the reload" })

	// devA is sampled all through the reload: it must never leave Good.
	stop := make(chan struct{})
	sampled := make(chan map[string]int, 1)
	go func() {
		bad := map[string]int{}
		defer func() { sampled <- bad }()
		for range 20000 {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if v := g.Value("devA/Counter"); v.Quality != drivers.Good {
				bad[v.Quality.String()]++
			}
		}
	}()

	acceptedA, readsA := pxA.Accepted(), srvA.Reads()
	reconnA := relStatusOf(t, g, "devA").Reconns
	notesBefore := notes.count()
	if err := g.Reload(context.Background(), relParse(t, relConfig(devA, devB2))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	relWait(t, 10*time.Second, func() bool { return notes.count() >= notesBefore+5 },
		func() string {
			return fmt.Sprintf("5 more notifications on devA/Counter after the reload (%d)", notes.count()-notesBefore)
		})
	relWait(t, 10*time.Second, func() bool { return srvA.Reads() >= readsA+5 }, func() string { return "devA keeps polling" })
	close(stop)
	for q, n := range <-sampled {
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
	relWait(t, 10*time.Second, func() bool {
		res := relRead(t, c, "devB/New")
		return relStatus(res[0]) == ua.StatusOK
	}, func() string { return "the added tag devB/New reads Good" })
	res := relRead(t, c, "devB/Old", "devB/Counter", "devA/Counter")
	if relStatus(res[0]) != ua.StatusBadNodeIDUnknown {
		t.Errorf("removed tag devB/Old: %v, want BadNodeIdUnknown", relStatus(res[0]))
	}
	if relStatus(res[2]) != ua.StatusOK {
		t.Errorf("unchanged tag devA/Counter: %v, want Good", relStatus(res[2]))
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
func relInvalidReload(t *testing.T, g *relGateway, c *opcua.Client, notes *relNotes, pxA *relProxy, devA, devB string) {
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
	relWait(t, 10*time.Second, func() bool { return notes.count() >= n+3 }, func() string { return "notifications after the invalid reload" })
	res := relRead(t, c, "devA/Counter", "devB/New", "devC/T")
	if relStatus(res[0]) != ua.StatusOK || relStatus(res[1]) != ua.StatusOK || relStatus(res[2]) != ua.StatusBadNodeIDUnknown {
		t.Errorf("after the invalid reload: devA/Counter %v, devB/New %v, devC/T %v", relStatus(res[0]), relStatus(res[1]), relStatus(res[2]))
	}
	if got := pxA.Accepted(); got != accepted {
		t.Errorf("an invalid reload reconnected devA (%d new connections)", got-accepted)
	}
}

func relDeviceNames(g *relGateway) []string {
	var names []string
	for _, s := range g.sched.Status() {
		names = append(names, s.Name)
	}
	return names
}
