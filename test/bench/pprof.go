package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// pprofEnv is the environment variable the gateway reads to serve
// /debug/pprof/ (net/http/pprof on its own listener) when -pprof is set.
const pprofEnv = "TAGBRIDGE_PPROF"

// profiler captures the gateway's profiles of one scenario run into dir:
// a CPU profile over the measurement window and a heap profile (inuse and
// alloc) at its end, named <scenario>.cpu.pprof and <scenario>.heap.pprof.
// A gateway that does not serve pprof only costs a note in the row.
type profiler struct {
	dir  string
	name string
	addr string // host:port the gateway was told to serve pprof on
	cpu  chan error
}

// startCPU starts a CPU profile of d in the background.
func (p *profiler) startCPU(ctx context.Context, d time.Duration) {
	p.cpu = make(chan error, 1)
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	go func() {
		p.cpu <- p.fetch(ctx, fmt.Sprintf("profile?seconds=%d", secs), p.name+".cpu.pprof", d+30*time.Second)
	}()
}

// finish waits for the CPU profile and fetches the heap profile.
func (p *profiler) finish(ctx context.Context) error {
	var cpuErr error
	if p.cpu != nil {
		cpuErr = <-p.cpu
	}
	heapErr := p.fetch(ctx, "heap?gc=1", p.name+".heap.pprof", 30*time.Second)
	if cpuErr != nil {
		return cpuErr
	}
	return heapErr
}

func (p *profiler) fetch(ctx context.Context, path, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/debug/pprof/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pprof %s: %w (does the gateway read %s?)", path, err, pprofEnv)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", path, resp.Status)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(p.dir, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("pprof %s: %w", path, err)
	}
	return f.Close()
}
