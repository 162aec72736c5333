package uaserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"golang.org/x/crypto/bcrypt"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// fakeWriter records writes and fails with err when set.
type fakeWriter struct {
	mu   sync.Mutex
	got  map[string]any
	err  error
	hook func(t *mapping.Tag, v any)
}

func (w *fakeWriter) Write(ctx context.Context, t *mapping.Tag, v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.got == nil {
		w.got = map[string]any{}
	}
	w.got[t.Path] = v
	if w.hook != nil {
		w.hook(t, v)
	}
	return nil
}

func (w *fakeWriter) value(path string) any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[path]
}

type fixture struct {
	srv   *Server
	store *mapping.Store
	tbl   *mapping.Table
	w     *fakeWriter
}

func testTable(store *mapping.Store) *mapping.Table {
	mk := func(path string, typ drivers.Type, acc mapping.Access) *mapping.Tag {
		return &mapping.Tag{Path: path, NodeID: path, Type: typ, Access: acc, Scan: 250 * time.Millisecond, Entry: store.Entry(path)}
	}
	temp := mk("Line1/Press3/Temperature", drivers.Float64, mapping.Read)
	temp.Unit, temp.Description, temp.Range = "degC", "Platen temperature", &[2]float64{0, 100}
	set := mk("Line1/Press3/Setpoint", drivers.Float32, mapping.ReadWrite)
	cnt := mk("Line1/Press3/Count", drivers.Uint32, mapping.ReadWrite)
	name := mk("Line1/Name", drivers.String, mapping.ReadWrite)
	run := mk("Line1/Running", drivers.Bool, mapping.Read)
	conn := mk("_Devices/press3/Connected", drivers.Bool, mapping.Read)
	conn.Status = true
	return &mapping.Table{Tags: []*mapping.Tag{temp, set, cnt, name, run, conn}}
}

func users(t testing.TB) []User {
	h, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []User{{Name: "operator", PasswordHash: string(h), Role: "write"}, {Name: "viewer", PasswordHash: string(h), Role: "read"}}
}

func start(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	store := mapping.NewStore()
	tbl := testTable(store)
	w := &fakeWriter{}
	opt := Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:tagbridge:test", Version: "test", Writer: w, Users: users(t), Logger: testLogger()}
	if mod != nil {
		mod(&opt)
	}
	srv, err := New(opt, tbl)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return &fixture{srv: srv, store: store, tbl: tbl, w: w}
}

func (f *fixture) connect(t testing.TB, opts ...opcua.Option) *opcua.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]opcua.Option{opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second)}, opts...)
	c, err := opcua.NewClient(f.srv.EndpointURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func nid(path string) *ua.NodeID { return ua.NewStringNodeID(1, path) }

// ctx5 bounds one client call. It is a hang guard, not a timing assertion:
// generous, because 40k-value requests under -race on a busy 2-core CI
// machine take seconds.
func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// subscribe creates a subscription publishing every interval and monitors
// items on it.
func subscribe(t testing.TB, c *opcua.Client, interval time.Duration, items ...*ua.MonitoredItemCreateRequest) (*opcua.Subscription, chan *opcua.PublishNotificationData, *ua.CreateMonitoredItemsResponse) {
	t.Helper()
	ch := make(chan *opcua.PublishNotificationData, 1024)
	sub, err := c.Subscribe(ctx5(t), &opcua.SubscriptionParameters{Interval: interval}, ch)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sub.Monitor(ctx5(t), ua.TimestampsToReturnBoth, items...)
	if err != nil {
		t.Fatal(err)
	}
	return sub, ch, res
}

// monItem monitors the Value of the tag at path, with client handle h.
func monItem(path string, h uint32) *ua.MonitoredItemCreateRequest {
	return opcua.NewMonitoredItemCreateRequestWithDefaults(nid(path), ua.AttributeIDValue, h)
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"no listen", Options{ApplicationURI: "urn:x"}},
		{"bad listen", Options{Listen: "nohostport", ApplicationURI: "urn:x"}},
		{"no uri", Options{Listen: "127.0.0.1:0"}},
		{"secure policy", Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:x", Security: []string{"basic256sha256"}}},
		{"bad anonymous", Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:x", Anonymous: "write"}},
		{"nobody", Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:x", Anonymous: "off"}},
		{"bad role", Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:x", Users: []User{{Name: "a", PasswordHash: "$2a$x", Role: "admin"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tc.opt, nil); err == nil {
				t.Fatal("New accepted bad options")
			}
		})
	}
}

func TestPortTaken(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	srv, err := New(Options{Listen: f.srv.Addr().String(), ApplicationURI: "urn:x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil {
		srv.Close()
		t.Fatal("Start on a taken port succeeded")
	}
	srv.Close()
}

func TestGetEndpoints(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	_, port, _ := splitHostPort(f.srv.Addr().String())
	for _, u := range []string{
		f.srv.EndpointURL(), f.srv.EndpointURL() + "/", "opc.tcp://localhost:" + port, "opc.tcp://127.0.0.1:" + port + "/",
	} {
		eps, err := opcua.GetEndpoints(ctx5(t), u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if len(eps) != 1 || eps[0].SecurityPolicyURI != ua.SecurityPolicyURINone || eps[0].Server.ApplicationURI != "urn:tagbridge:test" {
			t.Fatalf("%s: endpoints %+v", u, eps)
		}
		if len(eps[0].UserIdentityTokens) != 2 {
			t.Fatalf("%s: want anonymous + username tokens, got %d", u, len(eps[0].UserIdentityTokens))
		}
	}
}

func TestFindServers(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	res, err := c.FindServers(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Servers) != 1 || res.Servers[0].ApplicationURI != "urn:tagbridge:test" {
		t.Fatalf("servers %+v", res.Servers)
	}
}

func TestNamespaceArray(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	ns, err := c.NamespaceArray(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[1] != "urn:tagbridge:test" {
		t.Fatalf("namespaces %v", ns)
	}
}

func TestSessionRequired(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	// A Read with a made-up token is refused.
	req := &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_State), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}}}
	err := c.SecureChannel().SendRequest(ctx5(t), req, ua.NewByteStringNodeID(0, []byte("forged")), func(ua.Response) error { return nil })
	if !errors.Is(err, ua.StatusBadSessionIDInvalid) {
		t.Fatalf("forged token: got %v, want BadSessionIdInvalid", err)
	}
	// A created but not activated session is refused too.
	var created *ua.CreateSessionResponse
	err = c.SecureChannel().SendRequest(ctx5(t), &ua.CreateSessionRequest{ClientDescription: &ua.ApplicationDescription{ApplicationName: &ua.LocalizedText{}}, SessionName: "x"}, nil, func(r ua.Response) error {
		created, _ = r.(*ua.CreateSessionResponse)
		return nil
	})
	if err != nil || created == nil {
		t.Fatalf("create session: %v", err)
	}
	err = c.SecureChannel().SendRequest(ctx5(t), req, created.AuthenticationToken, func(ua.Response) error { return nil })
	if !errors.Is(err, ua.StatusBadSessionNotActivated) {
		t.Fatalf("not activated: got %v, want BadSessionNotActivated", err)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.Anonymous = "off" })
	for _, tc := range []struct {
		name string
		opts []opcua.Option
		ok   bool
	}{
		{"anonymous off", nil, false},
		{"operator", []opcua.Option{opcua.AuthUsername("operator", "secret")}, true},
		{"wrong password", []opcua.Option{opcua.AuthUsername("operator", "nope")}, false},
		{"unknown user", []opcua.Option{opcua.AuthUsername("mallory", "secret")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]opcua.Option{opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false)}, tc.opts...)
			c, err := opcua.NewClient(f.srv.EndpointURL(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Connect(ctx5(t))
			defer c.Close(context.Background())
			if (err == nil) != tc.ok {
				t.Fatalf("connect: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func splitHostPort(a string) (string, string, error) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			return a[:i], a[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("no port in %q", a)
}
