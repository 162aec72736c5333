package uaserver

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// blockingWriter holds every write until release is closed.
type blockingWriter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) Write(ctx context.Context, t *mapping.Tag, v any) error {
	w.once.Do(func() { close(w.started) })
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSlowWriteDoesNotBlockReads(t *testing.T) {
	t.Parallel()
	bw := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	f := start(t, func(o *Options) { o.Anonymous = "read"; o.Writer = bw })
	c := f.connect(t, opcua.AuthUsername("operator", "secret"), opcua.AuthPolicyID(policyUserName))
	other := f.connect(t)
	werr := make(chan error, 1)
	go func() {
		res, err := c.Write(context.Background(), &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
			NodeID: nid("Line1/Press3/Setpoint"), AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(float32(3))},
		}}})
		if err == nil && res.Results[0] != ua.StatusOK {
			err = res.Results[0]
		}
		werr <- err
	}()
	select {
	case <-bw.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the write never reached the device")
	}
	// While the device holds the write, the same client and another one read.
	for _, cl := range []*opcua.Client{c, other} {
		if _, err := cl.Read(ctx5(t), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: nid("Line1/Press3/Temperature"), AttributeID: ua.AttributeIDValue}}}); err != nil {
			t.Fatalf("read while a write is pending: %v", err)
		}
	}
	select {
	case err := <-werr:
		t.Fatalf("the write returned before the device confirmed it: %v", err)
	default:
	}
	close(bw.release)
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	// Its own Acknowledge: opcua.MaxMessageSize would change gopcua's
	// shared default for every client of the test binary.
	c := f.connect(t, opcua.Dialer(&uacp.Dialer{Dialer: &net.Dialer{}, ClientACK: &uacp.Acknowledge{
		ReceiveBufSize: 0xffff, SendBufSize: 0xffff, MaxMessageSize: 64 << 10}}))
	ids := make([]*ua.ReadValueID, 40000)
	for i := range ids {
		ids[i] = &ua.ReadValueID{NodeID: nid("Line1/Name"), AttributeID: ua.AttributeIDDescription, DataEncoding: &ua.QualifiedName{}}
	}
	_, err := c.Read(ctx5(t), &ua.ReadRequest{NodesToRead: ids})
	if !errors.Is(err, ua.StatusBadResponseTooLarge) {
		t.Fatalf("40000 values to a client that takes 64 KiB: got %v, want BadResponseTooLarge", err)
	}
	if _, err := c.Read(ctx5(t), &ua.ReadRequest{NodesToRead: ids[:10]}); err != nil {
		t.Fatalf("the channel must stay usable: %v", err)
	}
}

func TestTooMany(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) {
		o.Limits = Limits{MaxSessions: 1, MaxSubscriptionsPerSession: 1, MaxMonitoredItems: 2, MaxNodesPerRead: 10}
	})
	c := f.connect(t)
	cl, err := opcua.NewClient(f.srv.EndpointURL(), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Connect(ctx5(t)); !errors.Is(err, ua.StatusBadTooManySessions) {
		t.Errorf("second session: got %v, want BadTooManySessions", err)
	}
	cl.Close(context.Background())
	sub, err := c.Subscribe(ctx5(t), &opcua.SubscriptionParameters{Interval: 100 * time.Millisecond}, make(chan *opcua.PublishNotificationData, 8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx5(t), &opcua.SubscriptionParameters{Interval: 100 * time.Millisecond}, make(chan *opcua.PublishNotificationData, 8)); !errors.Is(err, ua.StatusBadTooManySubscriptions) {
		t.Errorf("second subscription: got %v, want BadTooManySubscriptions", err)
	}
	var reqs []*ua.MonitoredItemCreateRequest
	for i := range 3 {
		reqs = append(reqs, monItem("Line1/Press3/Temperature", uint32(i)))
	}
	res, err := sub.Monitor(ctx5(t), ua.TimestampsToReturnBoth, reqs...)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Results[2].StatusCode; got != ua.StatusBadTooManyMonitoredItems {
		t.Errorf("third item: got %v, want BadTooManyMonitoredItems", got)
	}
	ids := make([]*ua.ReadValueID, 11)
	for i := range ids {
		ids[i] = &ua.ReadValueID{NodeID: nid("Line1/Name"), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}
	}
	if _, err := c.Read(ctx5(t), &ua.ReadRequest{NodesToRead: ids}); !errors.Is(err, ua.StatusBadTooManyOperations) {
		t.Errorf("read of 11 nodes with MaxNodesPerRead 10: got %v, want BadTooManyOperations", err)
	}
}

func TestSamplingFasterThanPublishing(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	e := f.store.Entry("Line1/Press3/Temperature")
	e.Set(mapping.Value{V: 0.0, Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
	fast := monItem("Line1/Press3/Temperature", 1)
	fast.RequestedParameters.SamplingInterval, fast.RequestedParameters.QueueSize = 10, 20
	dflt := monItem("Line1/Press3/Temperature", 2)
	dflt.RequestedParameters.SamplingInterval = -1
	_, ch, res := subscribe(t, c, 3*time.Second, fast, dflt)
	if got := res.Results[0].RevisedSamplingInterval; got != 250 {
		t.Errorf("10 ms on a 250 ms tag revised to %v, want the scan (250)", got)
	}
	if got := res.Results[1].RevisedSamplingInterval; got != 3000 {
		t.Errorf("-1 revised to %v, want the publishing interval (3000)", got)
	}
	<-ch // the initial values
	// Three changes, far apart compared to the 250 ms sampling, inside one
	// 3 s publishing interval: the fast item queues them, the other keeps
	// the latest.
	for i := 1; i <= 3; i++ {
		time.Sleep(400 * time.Millisecond)
		e.Set(mapping.Value{V: float64(i), Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
	}
	got := map[uint32][]float64{}
	deadline := time.After(10 * time.Second)
	for len(got[2]) == 0 || got[2][len(got[2])-1] != 3 {
		select {
		case <-deadline:
			t.Fatalf("got %v", got)
		case n := <-ch:
			if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
				for _, it := range dc.MonitoredItems {
					got[it.ClientHandle] = append(got[it.ClientHandle], it.Value.Value.Value().(float64))
				}
			}
		}
	}
	if len(got[1]) < 2 {
		t.Errorf("fast item got %v, want the changes queued between publishes", got[1])
	}
}

// TestCloseUnderLoad subscribes 10k items whose values change every 100 ms
// and then deletes the subscription, closes the session or drops the
// connection; a deadlock shows as a call that never returns (bounded by
// the test's context).
func TestCloseUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	t.Parallel()
	srv, tbl := newLoadServer(t, 10000, false)
	startLoadServer(t, srv)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for v := 0.0; ; v++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			setAll(tbl, v)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	f := &fixture{srv: srv}
	for round := range 6 {
		c := f.connect(t, opcua.RequestTimeout(time.Minute)) // 10k items under -race are slow
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		sub, ch := monitorAll(t, ctx, c, tbl, 100*time.Millisecond, 0)
		for got := 0; got < 2; got++ { // notifications flow
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("round %d: no notifications", round)
			}
		}
		switch round % 3 {
		case 0:
			if err := sub.Cancel(ctx); err != nil {
				t.Fatalf("round %d: delete subscription under load: %v", round, err)
			}
			c.Close(ctx)
		case 1:
			if err := c.Close(ctx); err != nil {
				t.Fatalf("round %d: close session under load: %v", round, err)
			}
		case 2:
			c.SecureChannel().Close() // the client vanishes
			c.Close(ctx)
		}
		cancel()
	}
	// The server still answers, and nothing of the closed sessions is left
	// but the vanished clients' (they time out).
	c := f.connect(t)
	if _, err := c.NamespaceArray(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}
