package uaserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// syncBuffer is a log sink for tests that read the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func send[T any](ctx context.Context, c *opcua.Client, req ua.Request) (T, error) {
	var out T
	err := c.Send(ctx, req, func(v ua.Response) error {
		r, ok := v.(T)
		if !ok {
			return errors.New(typeName(v))
		}
		out = r
		return nil
	})
	return out, err
}

// rawPublish sends one Publish request outside gopcua's publish loop.
func rawPublish(ctx context.Context, c *opcua.Client) (*ua.PublishResponse, error) {
	return send[*ua.PublishResponse](ctx, c, &ua.PublishRequest{SubscriptionAcknowledgements: []*ua.SubscriptionAcknowledgement{}})
}

func statusChange(r *ua.PublishResponse) (ua.StatusCode, bool) {
	if r == nil || r.NotificationMessage == nil {
		return 0, false
	}
	for _, eo := range r.NotificationMessage.NotificationData {
		if sc, ok := eo.Value.(*ua.StatusChangeNotification); ok {
			return sc.Status, true
		}
	}
	return 0, false
}

// rawSubscription creates a subscription with a Value item on path that
// no publish loop serves (the test publishes by hand).
func rawSubscription(t *testing.T, c *opcua.Client, path string, keepAlive, lifetime uint32) uint32 {
	t.Helper()
	cs, err := send[*ua.CreateSubscriptionResponse](ctx5(t), c, &ua.CreateSubscriptionRequest{
		RequestedPublishingInterval: 50, RequestedMaxKeepAliveCount: keepAlive, RequestedLifetimeCount: lifetime, PublishingEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	mi := monItem(path, 7)
	cm, err := send[*ua.CreateMonitoredItemsResponse](ctx5(t), c, &ua.CreateMonitoredItemsRequest{
		SubscriptionID: cs.SubscriptionID, TimestampsToReturn: ua.TimestampsToReturnBoth, ItemsToCreate: []*ua.MonitoredItemCreateRequest{mi}})
	if err != nil || cm.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("create monitored item: %v %v", err, cm)
	}
	return cs.SubscriptionID
}

func TestTransferSubscriptions(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	login := func(user string) []opcua.Option {
		if user == "" {
			return nil
		}
		return []opcua.Option{opcua.AuthUsername(user, "secret"), opcua.AuthPolicyID(policyUserName)}
	}
	for _, tc := range []struct {
		name, from, to string
		want           ua.StatusCode
	}{
		{"same user", "operator", "operator", ua.StatusOK},
		{"another user", "operator", "viewer", ua.StatusBadUserAccessDenied},
		{"anonymous without a client certificate", "", "", ua.StatusBadUserAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := f.connect(t, login(tc.from)...)
			id := rawSubscription(t, old, "Line1/Press3/Temperature", 1, 1000)
			// The old session waits in Publish, as a client does.
			oldPub := make(chan *ua.PublishResponse, 4)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer func() {
				cancel()
				for range oldPub { // the publisher ends before the test does
				}
			}()
			go func() {
				for range 4 {
					r, err := rawPublish(ctx, old)
					if err != nil {
						close(oldPub)
						return
					}
					oldPub <- r
					if _, ok := statusChange(r); ok {
						close(oldPub)
						return
					}
				}
				close(oldPub)
			}()
			nu := f.connect(t, login(tc.to)...)
			res, err := send[*ua.TransferSubscriptionsResponse](ctx5(t), nu, &ua.TransferSubscriptionsRequest{SubscriptionIDs: []uint32{id, 999999}, SendInitialValues: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Results[0].StatusCode; got != tc.want {
				t.Fatalf("transfer: got %v, want %v", got, tc.want)
			}
			if got := res.Results[1].StatusCode; got != ua.StatusBadSubscriptionIDInvalid {
				t.Errorf("unknown subscription: got %v, want BadSubscriptionIdInvalid", got)
			}
			if tc.want != ua.StatusOK {
				return
			}
			var st ua.StatusCode
			for r := range oldPub {
				if s, ok := statusChange(r); ok && r.SubscriptionID == id {
					st = s
				}
			}
			if st != ua.StatusGoodSubscriptionTransferred {
				t.Errorf("old session: got status change %v, want GoodSubscriptionTransferred", st)
			}
			// The new session now gets the item's notifications.
			f.store.Entry("Line1/Press3/Temperature").Set(mapping.Value{V: 42.5, Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
			for i := 0; ; i++ {
				if i == 40 {
					t.Fatal("the new session never received 42.5")
				}
				r, err := rawPublish(ctx5(t), nu)
				if err != nil {
					t.Fatal(err)
				}
				if r.SubscriptionID != id {
					t.Fatalf("publish for subscription %d, want %d", r.SubscriptionID, id)
				}
				if hasValue(r, 42.5) {
					break
				}
			}
		})
	}
}

func hasValue(r *ua.PublishResponse, v float64) bool {
	for _, eo := range r.NotificationMessage.NotificationData {
		if dc, ok := eo.Value.(*ua.DataChangeNotification); ok {
			for _, n := range dc.MonitoredItems {
				if n.Value != nil && n.Value.Value != nil && n.Value.Value.Value() == v {
					return true
				}
			}
		}
	}
	return false
}

func TestLifetimeExpiryStatusChange(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	id := rawSubscription(t, c, "Line1/Running", 1, 3) // 3 x 50 ms without Publish requests
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.Stats().Subscriptions > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscription never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r, err := rawPublish(ctx5(t), c)
	if err != nil {
		t.Fatalf("publish after expiry: %v", err)
	}
	if st, ok := statusChange(r); !ok || st != ua.StatusBadTimeout || r.SubscriptionID != id {
		t.Fatalf("publish after expiry: subscription %d status %v (%v), want %d BadTimeout", r.SubscriptionID, st, ok, id)
	}
	if _, err := rawPublish(ctx5(t), c); !errors.Is(err, ua.StatusBadNoSubscription) {
		t.Fatalf("second publish: got %v, want BadNoSubscription", err)
	}
}

func TestSessionLogNamesUser(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	f := start(t, func(o *Options) { o.Logger = newTextLogger(&buf) })
	f.connect(t, opcua.AuthUsername("viewer", "secret"), opcua.AuthPolicyID(policyUserName))
	if s := buf.String(); !bytes.Contains([]byte(s), []byte(`msg="opcua: session activated"`)) || !bytes.Contains([]byte(s), []byte("user=viewer")) {
		t.Fatalf("no activation log line naming the user:\n%s", s)
	}
}
