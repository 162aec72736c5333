package gateway

// The gateway harness of this package's tests: parse a config, run a real
// gateway on 127.0.0.1:0 until the end of the test, collect its log, look
// at its store, and wait (bounded) for what a user would see. The peers are
// in modbuspeer_helpers_test.go, the OPC UA client in
// uaclient_helpers_test.go.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
	_ "github.com/tagbridge/tagbridge/drivers/all"
	"github.com/tagbridge/tagbridge/internal/mbtest"
	"github.com/tagbridge/tagbridge/mapping"
)

// parseConfig parses YAML into a config and fails the test on any error.
func parseConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return cfg
}

// testGateway is a running gateway and its logs.
type testGateway struct {
	*Gateway
	Endpoint string
	Logs     *testLog

	stop func()
}

// startGateway builds and runs a gateway from yaml until Stop or the end of
// the test; the log is shown when the test fails.
func startGateway(t testing.TB, yaml string) *testGateway {
	t.Helper()
	cfg := parseConfig(t, yaml)
	logs := &testLog{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs)
		}
	})
	newCtx, cancelNew := context.WithTimeout(context.Background(), 15*time.Second) // discovery at New
	defer cancelNew()
	g, err := New(newCtx, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "test"})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(ep string) { ready <- ep }) }()
	var once sync.Once
	tg := &testGateway{Gateway: g, Logs: logs, stop: func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("gateway.Run returned %v after cancel, want nil", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("gateway.Run did not return within 15s of cancel")
			}
		})
	}}
	t.Cleanup(tg.Stop)
	select {
	case tg.Endpoint = <-ready:
	case err := <-done:
		t.Fatalf("gateway.Run returned before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway not listening within 10s")
	}
	return tg
}

// Stop cancels Run and checks that it returns nil in time. Idempotent; it
// also runs at the end of the test.
func (g *testGateway) Stop() { g.stop() }

// noEntry marks a path the store does not hold (removed or never known).
const noEntry = drivers.Quality(0x80340000) // BadNodeIdUnknown

// Value is the store's latest value of a tag path.
func (g *testGateway) Value(path string) mapping.Value {
	e := g.store.Lookup(path)
	if e == nil {
		return mapping.Value{Quality: noEntry}
	}
	return e.Load()
}

// Tag is the current table's tag at path.
func (g *testGateway) Tag(path string) *mapping.Tag {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tbl.Tag(path)
}

// waitGood waits for every path to be Good.
func (g *testGateway) waitGood(t testing.TB, limit time.Duration, paths ...string) {
	t.Helper()
	for _, p := range paths {
		waitUntil(t, limit, func() bool { return g.Value(p).Quality == drivers.Good },
			func() string { return fmt.Sprintf("%s Good (now %+v)", p, g.Value(p)) })
	}
}

// waitQuality waits for path to have quality q.
func (g *testGateway) waitQuality(t testing.TB, limit time.Duration, path string, q drivers.Quality) {
	t.Helper()
	waitUntil(t, limit, func() bool { return g.Value(path).Quality == q },
		func() string { return fmt.Sprintf("%s %v (now %+v)", path, q, g.Value(path)) })
}

// watchGood samples path every period from now on (at most 20000 times)
// until the returned function is called (or the test ends); that function
// returns how often each quality other than Good was seen.
func (g *testGateway) watchGood(t testing.TB, path string, period time.Duration) (stop func() map[string]int) {
	quit := make(chan struct{})
	sampled := make(chan map[string]int, 1)
	go func() {
		bad := map[string]int{}
		defer func() { sampled <- bad }()
		for range 20000 {
			select {
			case <-quit:
				return
			case <-time.After(period):
			}
			if v := g.Value(path); v.Quality != drivers.Good {
				bad[v.Quality.String()]++
			}
		}
	}()
	var once sync.Once
	var bad map[string]int
	stop = func() map[string]int {
		once.Do(func() {
			close(quit)
			bad = <-sampled
		})
		return bad
	}
	t.Cleanup(func() { stop() })
	return stop
}

// testLog collects log output for assertions and failing tests.
type testLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitUntil polls cond every 20 ms until it holds or limit passes; then it
// fails the test with what().
func waitUntil(t testing.TB, limit time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// relDevice is the YAML of one modbus device with a counter tag (hr:0,
// "Counter") and a writable register (hr:1, "Setpoint"), plus extra YAML
// lines (settings such as demote_after, indented by four spaces) and extra
// tags (each a YAML flow map). options starts with ", " when set; the
// driver's timeout is 300ms unless options sets it. It is meant for a
// PLC from startCountingPLC.
func relDevice(name, addr, scan, options, settings string, extraTags ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    driver: modbus\n    scan: %s\n", name, scan)
	if !strings.Contains(options, "timeout:") {
		options += ", timeout: 300ms"
	}
	fmt.Fprintf(&b, "    options: { address: %q, reconnect_min: 20ms, reconnect_max: 200ms%s }\n", addr, options)
	if settings != "" {
		for _, l := range strings.Split(strings.TrimSpace(settings), "\n") {
			fmt.Fprintf(&b, "    %s\n", strings.TrimSpace(l))
		}
	}
	b.WriteString("    tags:\n")
	b.WriteString("      - { name: Counter, address: \"hr:0\", type: uint16 }\n")
	b.WriteString("      - { name: Setpoint, address: \"hr:1\", type: uint16, access: readwrite }\n")
	for _, t := range extraTags {
		fmt.Fprintf(&b, "      - %s\n", t)
	}
	return b.String()
}

// relConfig is a whole config: OPC UA on 127.0.0.1:0, anonymous read, an
// "operator" user that may write (password "secret"), and the devices.
func relConfig(devices ...string) string {
	return `gateway: { name: reltest, log: { level: warn } }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:reltest
  security: [none]
  anonymous: read
  users: [ { name: operator, password_hash: "` + secretHash + `", role: write } ]
devices:
` + strings.Join(devices, "")
}

// secretHash is bcrypt("secret") at cost 4.
const secretHash = "$2a$04$H3v8mNUYbghM5aYA5YFprO9HoDulMRDzVMXrO9tUfZ.kxmULFBemu"

// startCountingPLC starts a Modbus TCP server whose hr:0 of unit 1 goes up
// by one on every read starting at it, so every successful scan sees a new
// value (what relDevice's Counter tag reads).
func startCountingPLC(t testing.TB) *mbtest.Server {
	t.Helper()
	s := mbtest.Start(t)
	s.CountOn(1, 0)
	return s
}
