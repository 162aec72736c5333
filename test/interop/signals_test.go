package interop

// Signals and exit codes of the real binary (DESIGN.md section 4): SIGINT
// and SIGTERM stop it cleanly (exit 0, within the binary's own 5 s grace,
// which it enforces by exiting 2 otherwise), `validate` exits 0 or 1, and
// `run` with a missing config exits 1 with a message naming the file.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// relExitCode is the exit code of a finished command (-1: did not exit).
func relExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func TestRelStopSignals(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "tagbridge.yaml")
			if err := os.WriteFile(path, []byte(relSimConfig()), 0o644); err != nil {
				t.Fatal(err)
			}
			gw := startGateway(t, dir, "--config", path)
			c := relConnect(t, gw.Endpoint) // an open session while it stops
			relUntil(t, gw, 10*time.Second, "sim1/Count Good", relGood(t, c, "sim1/Count"))

			if err := gw.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// The bound is the harness's, not the assertion: the binary
			// exits 2 by itself if stopping takes longer than its 5 s grace.
			select {
			case err := <-gw.done:
				if code := relExitCode(err); code != 0 {
					t.Errorf("exit code %d after %v, want 0\n%s", code, sig, gw.logs.String())
				}
			case <-time.After(15 * time.Second):
				_ = gw.cmd.Process.Kill()
				<-gw.done
				t.Fatalf("still running 15 s after %v\n%s", sig, gw.logs.String())
			}
			if logs := gw.logs.String(); !strings.Contains(logs, `msg=stopped`) {
				t.Errorf("no \"stopped\" log line after %v:\n%s", sig, logs)
			}
		})
	}
}

// relRun runs the binary with args in dir (bounded) and returns its exit
// code and combined output.
func relRun(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tagbridgeBin(t), args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("tagbridge %v did not finish within 20 s\n%s", args, out.String())
	}
	return relExitCode(err), out.String()
}

func TestRelExitCodes(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.yaml", relSimConfig())
	write("bad.yaml", relSimConfig(
		`{ name: Broken, address: "counter", type: flaot32 }`,
		`{ name: Count, address: "counter", type: uint32, scan: 0s }`))
	write("notyaml.yaml", "devices: [ {{{\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings of the output
	}{
		{"validate ok", []string{"validate", "--config", "good.yaml"}, 0, []string{"ok"}},
		{"validate errors", []string{"validate", "--config", "bad.yaml"}, 1, []string{"devices[0].tags[1].type", "flaot32", "devices[0].tags[2]"}},
		{"validate not yaml", []string{"validate", "--config", "notyaml.yaml"}, 1, []string{"line 1", "YAML"}},
		{"validate missing", []string{"validate", "--config", "missing.yaml"}, 1, []string{"missing.yaml"}},
		{"run missing", []string{"run", "--config", "missing.yaml"}, 1, []string{"missing.yaml"}},
		{"run invalid", []string{"run", "--config", "bad.yaml"}, 1, []string{"flaot32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := relRun(t, dir, tc.args...)
			if code != tc.code {
				t.Errorf("tagbridge %v: exit %d, want %d\n%s", tc.args, code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("tagbridge %v: output does not mention %q:\n%s", tc.args, w, out)
				}
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("tagbridge %v crashed:\n%s", tc.args, out)
			}
		})
	}
}
