package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireBinary skips unless TAGBRIDGE_INTEROP=1 (make test sets it): every
// test that builds the binary needs it.
func requireBinary(t *testing.T) {
	t.Helper()
	if os.Getenv("TAGBRIDGE_INTEROP") != "1" {
		t.Skip("interop tests run with TAGBRIDGE_INTEROP=1 (make test)")
	}
}

// requireInterop is requireBinary, and then node and the npm peers must be
// present (make test installs them) or the test fails.
func requireInterop(t *testing.T) {
	t.Helper()
	requireBinary(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: the interop tests need Node >= 20")
	}
	if _, err := os.Stat("node_modules/node-opcua"); err != nil {
		t.Fatal("node_modules missing: run `make deps-npm` (npm ci in test/interop)")
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tagbridgeBin builds the real binary once per test process.
func tagbridgeBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tagbridge-interop-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tagbridge")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/tagbridge")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// gateway is a running tagbridge process.
type gateway struct {
	cmd      *exec.Cmd
	Endpoint string
	logs     *syncBuffer
	done     chan error
}

var endpointRE = regexp.MustCompile(`serving .* on (opc\.tcp://\S+)`)

// startGateway runs `tagbridge run args...` in dir and waits for its endpoint.
func startGateway(t *testing.T, dir string, args ...string) *gateway {
	t.Helper()
	bin := tagbridgeBin(t)
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Dir = dir
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gateway{cmd: cmd, logs: logs, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := endpointRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { g.done <- cmd.Wait() }()
	t.Cleanup(func() { g.Stop(t) })
	select {
	case g.Endpoint = <-found:
	case err := <-g.done:
		t.Fatalf("tagbridge exited before serving: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("tagbridge did not serve within 20s\n%s", logs.String())
	}
	return g
}

// Stop sends SIGINT and waits (bounded) for a clean exit.
func (g *gateway) Stop(t *testing.T) {
	if g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(8 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
		t.Errorf("tagbridge did not stop within 8s of SIGINT\n%s", g.logs.String())
	}
}

// node runs a script in this folder with args and decodes its JSON result
// (the last line of stdout).
func node(t *testing.T, timeout time.Duration, script string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	// The result is the last line that is a JSON object: node-opcua prints
	// its own notices on stdout too ("Creating default certificate" on a
	// fresh machine, warnings after the result).
	var res map[string]any
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i := len(lines) - 1; i >= 0 && res == nil; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "{") {
			if json.Unmarshal([]byte(l), &res) != nil {
				res = nil
			}
		}
	}
	if res == nil {
		t.Fatalf("node %s: %v; no JSON result\nstdout:\n%s\nstderr:\n%s", script, err, out.String(), errb.String())
	}
	if err != nil {
		t.Fatalf("node %s failed: %v\nresult: %v\nstderr:\n%s", script, err, res, errb.String())
	}
	return res
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
