package gateway

// The OPC UA side of this package's tests: gopcua's client, the way a SCADA
// system sees the gateway. Every call is bounded; every helper fails the
// test on a service error.

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// dialUA connects a gopcua client (security None) and closes it at the end
// of the test (the test may close it earlier).
func dialUA(t testing.TB, endpoint string, opts ...opcua.Option) *opcua.Client {
	t.Helper()
	opts = append([]opcua.Option{
		opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.SecurityPolicy(ua.SecurityPolicyURINone),
		opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second),
	}, opts...)
	c, err := opcua.NewClient(endpoint, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("opc ua connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// uaCtx bounds one client call.
func uaCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// findNS is the index of the namespace uri on the server.
func findNS(t testing.TB, c *opcua.Client, uri string) uint16 {
	t.Helper()
	ns, err := c.FindNamespace(uaCtx(t), uri)
	if err != nil {
		t.Fatalf("namespace %s: %v", uri, err)
	}
	return ns
}

// tagNode is the NodeId of a tag path in the application namespace, ns=1.
func tagNode(path string) *ua.NodeID { return ua.NewStringNodeID(1, path) }

// readAttrs reads rvs (timestamps both) in one request.
func readAttrs(t testing.TB, c *opcua.Client, rvs ...*ua.ReadValueID) []*ua.DataValue {
	t.Helper()
	res, err := c.Read(uaCtx(t), &ua.ReadRequest{NodesToRead: rvs, TimestampsToReturn: ua.TimestampsToReturnBoth})
	if err != nil {
		t.Fatalf("opc ua read: %v", err)
	}
	if len(res.Results) != len(rvs) {
		t.Fatalf("opc ua read: %d results for %d nodes", len(res.Results), len(rvs))
	}
	return res.Results
}

// readValues reads the Value attribute of each node in one request.
func readValues(t testing.TB, c *opcua.Client, nodes ...*ua.NodeID) []*ua.DataValue {
	t.Helper()
	rvs := make([]*ua.ReadValueID, len(nodes))
	for i, n := range nodes {
		rvs[i] = &ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDValue}
	}
	return readAttrs(t, c, rvs...)
}

// readTags reads the Value of each tag path (ns=1).
func readTags(t testing.TB, c *opcua.Client, paths ...string) []*ua.DataValue {
	t.Helper()
	return readValues(t, c, tagNodes(1, paths)...)
}

func tagNodes(ns uint16, paths []string) []*ua.NodeID {
	nodes := make([]*ua.NodeID, len(paths))
	for i, p := range paths {
		nodes[i] = ua.NewStringNodeID(ns, p)
	}
	return nodes
}

// waitRead reads the Value of nodes every 50 ms until ok holds for the
// results (at most 15 s) and returns them; it fails the test with the last
// results otherwise.
func waitRead(t testing.TB, c *opcua.Client, what string, ok func([]*ua.DataValue) bool, nodes ...*ua.NodeID) []*ua.DataValue {
	t.Helper()
	const limit = 15 * time.Second
	deadline := time.Now().Add(limit)
	var last []*ua.DataValue
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		if last = readValues(t, c, nodes...); ok(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	var b strings.Builder
	for i, dv := range last {
		fmt.Fprintf(&b, "\n  %s: %s", nodes[i], showDV(dv))
	}
	t.Fatalf("%s: not reached within %s; last read:%s", what, limit, b.String())
	return nil
}

// statusOf is a DataValue's status (Good when unset).
func statusOf(dv *ua.DataValue) ua.StatusCode {
	if dv == nil {
		return ua.StatusBad
	}
	return dv.Status
}

// showDV prints a DataValue for a failure message.
func showDV(dv *ua.DataValue) string {
	if dv == nil {
		return "<nil>"
	}
	var v any
	if dv.Value != nil {
		v = dv.Value.Value()
	}
	return fmt.Sprintf("%v (%T) status %v source %v", v, v, dv.Status, dv.SourceTimestamp)
}

// writeValue writes v to the Value of node and returns the node's status.
func writeValue(t testing.TB, c *opcua.Client, node *ua.NodeID, v any) ua.StatusCode {
	t.Helper()
	vr, err := ua.NewVariant(v)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // the write waits for the device
	defer cancel()
	res, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID: node, AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: vr},
	}}})
	if err != nil || len(res.Results) != 1 {
		t.Fatalf("opc ua write %s = %v: %v %+v", node, v, err, res)
	}
	return res.Results[0]
}

// browseRefs lists the forward references of type ref (and its subtypes)
// of node n, following continuation points (bounded).
func browseRefs(t testing.TB, c *opcua.Client, n *ua.NodeID, ref uint32) []*ua.ReferenceDescription {
	t.Helper()
	res, err := c.Browse(uaCtx(t), &ua.BrowseRequest{
		View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)},
		NodesToBrowse: []*ua.BrowseDescription{{
			NodeID: n, BrowseDirection: ua.BrowseDirectionForward, ReferenceTypeID: ua.NewNumericNodeID(0, ref),
			IncludeSubtypes: true, ResultMask: uint32(ua.BrowseResultMaskAll),
		}},
	})
	if err != nil || len(res.Results) != 1 || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("browse %s: %v %+v", n, err, res)
	}
	refs, cp := res.Results[0].References, res.Results[0].ContinuationPoint
	for i := 0; len(cp) > 0 && i < 100; i++ {
		next, err := c.BrowseNext(uaCtx(t), &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
		if err != nil || len(next.Results) != 1 {
			t.Fatalf("browse next %s: %v", n, err)
		}
		refs, cp = append(refs, next.Results[0].References...), next.Results[0].ContinuationPoint
	}
	return refs
}

// childNamed is the node named name under n, or nil.
func childNamed(t testing.TB, c *opcua.Client, n *ua.NodeID, name string) *ua.ReferenceDescription {
	t.Helper()
	for _, rd := range browseRefs(t, c, n, id.HierarchicalReferences) {
		if rd.BrowseName.Name == name {
			return rd
		}
	}
	return nil
}

// browseTree lists every node under root by its browse path, following
// hierarchical references through objects (bounded). Nodes of ns=0 (the
// Server object and its kin) are left out.
func browseTree(t testing.TB, c *opcua.Client, root *ua.NodeID) map[string]*ua.ReferenceDescription {
	t.Helper()
	out := map[string]*ua.ReferenceDescription{}
	type item struct {
		path string
		id   *ua.NodeID
	}
	queue := []item{{"", root}}
	for visited := 0; len(queue) > 0 && visited < 500 && len(out) < 2000; visited++ {
		it := queue[0]
		queue = queue[1:]
		for _, rd := range browseRefs(t, c, it.id, id.HierarchicalReferences) {
			if rd.NodeID.NodeID.Namespace() == 0 {
				continue
			}
			p := path.Join(it.path, rd.BrowseName.Name)
			out[p] = rd
			if rd.NodeClass == ua.NodeClassObject {
				queue = append(queue, item{p, rd.NodeID.NodeID})
			}
		}
	}
	return out
}

// subscribe creates a subscription publishing every 50 ms that monitors
// items, each of which must be created Good. The caller cancels it, while
// the client is still open.
func subscribe(t testing.TB, c *opcua.Client, items ...*ua.MonitoredItemCreateRequest) (*opcua.Subscription, chan *opcua.PublishNotificationData) {
	t.Helper()
	ch := make(chan *opcua.PublishNotificationData, 256)
	sub, err := c.Subscribe(uaCtx(t), &opcua.SubscriptionParameters{Interval: 50 * time.Millisecond}, ch)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	res, err := sub.Monitor(uaCtx(t), ua.TimestampsToReturnBoth, items...)
	if err != nil || len(res.Results) != len(items) {
		t.Fatalf("monitor: %v %+v", err, res)
	}
	for i, r := range res.Results {
		if r.StatusCode != ua.StatusOK {
			t.Fatalf("monitored item %d (%s): %v", i, items[i].ItemToMonitor.NodeID, r.StatusCode)
		}
	}
	return sub, ch
}

// eachChange hands every monitored item of the data changes published on
// ch to f until done holds; it fails the test on a publish error, or with
// what() when done does not hold within limit.
func eachChange(t testing.TB, ch <-chan *opcua.PublishNotificationData, limit time.Duration, done func() bool, what func() string, f func(*ua.MonitoredItemNotification)) {
	t.Helper()
	timeout := time.After(limit)
	for !done() {
		select {
		case <-timeout:
			t.Fatalf("not within %s: %s", limit, what())
		case n := <-ch:
			if n.Error != nil {
				t.Fatalf("publish: %v", n.Error)
			}
			if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
				for _, it := range dc.MonitoredItems {
					f(it)
				}
			}
		}
	}
}
