package interop

// Hot reload of the real binary (issue 5, point 4): SIGHUP, a change of the
// config file, and an invalid edit that must leave the running config
// serving. Go only (the gopcua client checks the address space), so these
// run without node; they still need TAGBRIDGE_INTEROP=1 like every test
// that builds the binary.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// relSimConfig is a config with one sim device and the given extra tags
// (YAML flow maps). Logs are text at info level, so "config reloaded" and
// the rejection line are visible.
func relSimConfig(extra ...string) string {
	var b strings.Builder
	b.WriteString(`gateway: { name: interop-reload, log: { level: info, format: text } }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:interop-reload
  security: [none]
  anonymous: read
devices:
  - name: sim1
    driver: sim
    scan: 100ms
    options: { seed: 1 }
    tags:
      - { name: Count, address: counter, type: uint32 }
`)
	for _, e := range extra {
		fmt.Fprintf(&b, "      - %s\n", e)
	}
	return b.String()
}

// relWriteFile replaces the file's content the way editors do: write a
// temporary file next to it, then rename it over the old one.
func relWriteFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// relConnect connects a gopcua client (security None, anonymous).
func relConnect(t *testing.T, endpoint string) *opcua.Client {
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
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// relReadStatus reads the Value of ns=1;s=path and returns its status and
// value.
func relReadStatus(t *testing.T, c *opcua.Client, path string) (ua.StatusCode, any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, path), AttributeID: ua.AttributeIDValue}}})
	if err != nil || len(res.Results) != 1 {
		t.Fatalf("read %s: %v %+v", path, err, res)
	}
	var v any
	if res.Results[0].Value != nil {
		v = res.Results[0].Value.Value()
	}
	return res.Results[0].Status, v
}

// relUntil polls cond (bounded) and fails with what and the logs.
func relUntil(t *testing.T, gw *gateway, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s\nlogs:\n%s", limit, what, gw.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func relGood(t *testing.T, c *opcua.Client, path string) func() bool {
	return func() bool {
		st, _ := relReadStatus(t, c, path)
		return st == ua.StatusOK
	}
}

// TestRelReloadSIGHUP: the config path is a symlink into another folder, so
// the file watcher (which watches the link's folder) sees no event when the
// target changes; only SIGHUP makes the binary read the edited file.
func TestRelReloadSIGHUP(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	dir, real := t.TempDir(), filepath.Join(t.TempDir(), "real.yaml")
	if err := os.WriteFile(real, []byte(relSimConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "tagbridge.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	gw := startGateway(t, dir, "--config", link)
	c := relConnect(t, gw.Endpoint)
	relUntil(t, gw, 10*time.Second, "sim1/Count Good", relGood(t, c, "sim1/Count"))

	if err := os.WriteFile(real, []byte(relSimConfig(`{ name: Added, address: "const:42", type: int32 }`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	relUntil(t, gw, 10*time.Second, `log line "config reloaded" trigger=SIGHUP`, func() bool {
		return strings.Contains(gw.logs.String(), `msg="config reloaded" trigger=SIGHUP`)
	})
	relUntil(t, gw, 10*time.Second, "the added tag sim1/Added reads Good", relGood(t, c, "sim1/Added"))
	if _, v := relReadStatus(t, c, "sim1/Added"); v != int32(42) {
		t.Errorf("sim1/Added = %v (%T), want int32 42", v, v)
	}
	if st, _ := relReadStatus(t, c, "sim1/Count"); st != ua.StatusOK {
		t.Errorf("sim1/Count after the reload: %v, want Good", st)
	}
}

// TestRelReloadFileWatch: saving the config file is enough; an invalid
// save is logged with its errors and the running config keeps serving; a
// fixed save applies.
func TestRelReloadFileWatch(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "tagbridge.yaml")
	if err := os.WriteFile(path, []byte(relSimConfig(`{ name: Doomed, address: "const:1", type: int32 }`)), 0o644); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, dir, "--config", path)
	c := relConnect(t, gw.Endpoint)
	relUntil(t, gw, 10*time.Second, "sim1/Doomed Good", relGood(t, c, "sim1/Doomed"))

	// A valid edit: Doomed removed, Added added.
	relWriteFile(t, path, relSimConfig(`{ name: Added, address: "const:7", type: int32 }`))
	relUntil(t, gw, 10*time.Second, `log line "config reloaded" trigger="file change"`, func() bool {
		return strings.Contains(gw.logs.String(), `msg="config reloaded" trigger="file change"`)
	})
	relUntil(t, gw, 10*time.Second, "sim1/Added Good", relGood(t, c, "sim1/Added"))
	if st, _ := relReadStatus(t, c, "sim1/Doomed"); st != ua.StatusBadNodeIDUnknown {
		t.Errorf("removed tag sim1/Doomed: %v, want BadNodeIdUnknown", st)
	}

	// An invalid edit: two mistakes, both reported; nothing changes.
	before := strings.Count(gw.logs.String(), "config reloaded")
	relWriteFile(t, path, relSimConfig(
		`{ name: Added, address: "const:7", type: int32 }`,
		`{ name: Broken, address: "nonsense:x=1", type: flaot32 }`,
		`{ name: Added, address: "counter", type: uint16 }`))
	relUntil(t, gw, 10*time.Second, `log line "config reload rejected"`, func() bool {
		return strings.Contains(gw.logs.String(), "config reload rejected")
	})
	logs := gw.logs.String()
	for _, want := range []string{"devices[0].tags[2].type", "flaot32", "devices[0].tags[3]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the rejection does not mention %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "config reloaded"); n != before {
		t.Errorf("an invalid file was applied (%d reloads logged, want %d)", n, before)
	}
	for _, p := range []string{"sim1/Count", "sim1/Added"} {
		if st, _ := relReadStatus(t, c, p); st != ua.StatusOK {
			t.Errorf("%s after a rejected edit: %v, want Good", p, st)
		}
	}
	if st, _ := relReadStatus(t, c, "sim1/Broken"); st != ua.StatusBadNodeIDUnknown {
		t.Errorf("sim1/Broken from a rejected edit: %v, want BadNodeIdUnknown", st)
	}

	// Fixed: applies.
	relWriteFile(t, path, relSimConfig(`{ name: Added, address: "const:7", type: int32 }`, `{ name: Fixed, address: "const:3", type: int32 }`))
	relUntil(t, gw, 10*time.Second, "sim1/Fixed Good after the fixed edit", relGood(t, c, "sim1/Fixed"))
}
