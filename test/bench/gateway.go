package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildGateway builds ./cmd/tagbridge into dir (the module root is found
// from the working directory, so `go run ./test/bench` from the repo root
// and `go test` inside test/bench both work).
func buildGateway(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tagbridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tagbridge")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tagbridge: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("go.mod not found above the working directory")
		}
		d = up
	}
}

// gateway is one running tagbridge process.
type gateway struct {
	cmd      *exec.Cmd
	endpoint string // opc.tcp://...
	metrics  string // host:port of /metrics, "" if none
	logPath  string
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// startGateway writes cfg into dir, runs `tagbridge run` and waits until it
// prints that it serves (at most startTimeout: a 100k-tag config takes a
// while to load).
// env is added to the gateway's environment (e.g. TAGBRIDGE_PPROF=addr).
func startGateway(ctx context.Context, bin, dir string, cfg genConfig, startTimeout time.Duration, env ...string) (*gateway, error) {
	file := filepath.Join(dir, "tagbridge.yaml")
	if err := os.WriteFile(file, []byte(cfg.render()), 0o600); err != nil {
		return nil, err
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "tagbridge.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", file, "--listen", listen)
	cmd.Stderr = logf
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	g := &gateway{cmd: cmd, metrics: cfg.MetricsListen, logPath: logPath, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if _, ep, ok := strings.Cut(line, " on opc.tcp://"); ok && strings.HasPrefix(line, "tagbridge: serving") {
				select {
				case ready <- "opc.tcp://" + ep:
				default:
				}
			}
		}
	}()
	go func() {
		g.waitErr = cmd.Wait()
		logf.Close()
		close(g.done)
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case g.endpoint = <-ready:
		return g, nil
	case <-g.done:
		return nil, fmt.Errorf("tagbridge exited before serving (%v):\n%s", g.waitErr, g.logTail(20))
	case <-t.C:
		g.stop()
		return nil, fmt.Errorf("tagbridge did not serve within %s:\n%s", startTimeout, g.logTail(20))
	case <-ctx.Done():
		g.stop()
		return nil, ctx.Err()
	}
}

func (g *gateway) pid() int { return g.cmd.Process.Pid }

// stop sends SIGTERM and waits (the contract is 5 s), then kills.
func (g *gateway) stop() {
	g.stopOnce.Do(func() {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(7 * time.Second):
			_ = g.cmd.Process.Kill()
			<-g.done
		}
	})
}

// alive reports whether the process still runs.
func (g *gateway) alive() bool {
	select {
	case <-g.done:
		return false
	default:
		return true
	}
}

// logTail returns the last n lines of the gateway's stderr.
func (g *gateway) logTail(n int) string {
	b, err := os.ReadFile(g.logPath)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
