package poll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// fake is a driver with controllable faults, registered under a unique name
// per test. Options: "writer" (bool, default true), "prepare" (bool,
// default true). Addresses starting with "bad" return a Bad point.
// Every address reads mem[addr] if set, else its read count as float64.
type fake struct {
	name string

	mu        sync.Mutex
	opens     int
	closes    int
	prepares  int
	reads     map[string]int
	ops       []string // "r:a,b", "w:a" in call order (last 1000)
	mem       map[string]any
	failConn  bool
	failErr   error
	hang      bool          // Read blocks until its ctx is done
	block     chan struct{} // Read waits for it when non-nil
	inRead    chan struct{} // cap 1: signalled when a Read starts
	writeErr  error
	hangWrite bool // Write blocks until its ctx is done
	panics    bool // Read panics
	busy      bool // a device method is running (to catch concurrent calls)
	overlap   bool // two device methods ran concurrently
}

func newFake(t testing.TB) *fake {
	n := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	f := &fake{
		name:   fmt.Sprintf("polltest-fake-%s-%d", n, rand.Int64()),
		reads:  map[string]int{},
		mem:    map[string]any{},
		inRead: make(chan struct{}, 1),
	}
	drivers.Register(f.name, f)
	return f
}

func (f *fake) set(fn func(f *fake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fake) get(fn func(f *fake) int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fn(f)
}

func (f *fake) readsOf(addr string) int {
	return f.get(func(f *fake) int { return f.reads[addr] })
}

func (f *fake) opsCopy() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

func (f *fake) Open(_ context.Context, name string, opts map[string]any) (drivers.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	d := &fakeDev{f: f}
	writer, prepare := true, true
	if v, ok := opts["writer"].(bool); ok {
		writer = v
	}
	if v, ok := opts["prepare"].(bool); ok {
		prepare = v
	}
	switch {
	case writer && prepare:
		return &fakePWDev{fakeWDev{d}}, nil
	case writer:
		return &fakeWDev{d}, nil
	case prepare:
		return &fakePDev{d}, nil
	}
	return d, nil
}

type fakeDev struct {
	f      *fake
	closed bool
}

type fakeWDev struct{ *fakeDev }
type fakePDev struct{ *fakeDev }
type fakePWDev struct{ fakeWDev }

var (
	_ drivers.Writer   = (*fakeWDev)(nil)
	_ drivers.Preparer = (*fakePDev)(nil)
	_ drivers.Preparer = (*fakePWDev)(nil)
	_ drivers.Writer   = (*fakePWDev)(nil)
)

func (d *fakeDev) enter() {
	f := d.f
	f.mu.Lock()
	if f.busy {
		f.overlap = true
	}
	f.busy = true
	f.mu.Unlock()
}

func (d *fakeDev) leave() {
	d.f.mu.Lock()
	d.f.busy = false
	d.f.mu.Unlock()
}

func (d *fakeDev) log(op string) {
	f := d.f
	f.ops = append(f.ops, op)
	if len(f.ops) > 1000 {
		f.ops = f.ops[len(f.ops)-1000:]
	}
}

func (d *fakeDev) Read(ctx context.Context, addrs []drivers.Address, out []drivers.Sample) error {
	d.enter()
	defer d.leave()
	f := d.f
	select {
	case f.inRead <- struct{}{}:
	default:
	}
	f.mu.Lock()
	hang, block, panics := f.hang, f.block, f.panics
	f.mu.Unlock()
	if panics {
		panic("fake: driver bug")
	}
	if hang {
		<-ctx.Done()
		return fmt.Errorf("fake: read: %w", ctx.Err())
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return fmt.Errorf("fake: read: %w", ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, len(addrs))
	for i, a := range addrs {
		names[i] = a.Addr
	}
	d.log("r:" + strings.Join(names, ","))
	if f.failConn {
		return fmt.Errorf("fake: read: %w", drivers.ErrBadConn)
	}
	if f.failErr != nil {
		return fmt.Errorf("fake: read: %w", f.failErr)
	}
	now := time.Now()
	for i, a := range addrs {
		f.reads[a.Addr]++
		if strings.HasPrefix(a.Addr, "bad") {
			out[i] = drivers.Sample{Quality: drivers.BadDeviceFailure, Time: now, Err: errors.New("fake: bad point")}
			continue
		}
		v, ok := f.mem[a.Addr]
		if !ok {
			v = float64(f.reads[a.Addr])
		}
		out[i] = drivers.Sample{Value: v, Quality: drivers.Good, Time: now}
	}
	return nil
}

func (d *fakeDev) Close() error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.f.closes++
	}
	return nil
}

func (d *fakeWDev) Write(ctx context.Context, a drivers.Address, v any) error {
	d.enter()
	defer d.leave()
	f := d.f
	f.mu.Lock()
	werr, hang := f.writeErr, f.hangWrite
	d.log("w:" + a.Addr)
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return fmt.Errorf("fake: write: %w", ctx.Err())
	}
	if werr != nil {
		return fmt.Errorf("fake: write %s: %w", a.Addr, werr)
	}
	f.mu.Lock()
	f.mem[a.Addr] = v
	f.mu.Unlock()
	return nil
}

func (d *fakePDev) Prepare(addrs []drivers.Address) (drivers.Batch, error) {
	return prepare(d.fakeDev, addrs)
}

func (d *fakePWDev) Prepare(addrs []drivers.Address) (drivers.Batch, error) {
	return prepare(d.fakeDev, addrs)
}

func prepare(d *fakeDev, addrs []drivers.Address) (drivers.Batch, error) {
	d.f.mu.Lock()
	d.f.prepares++
	d.f.mu.Unlock()
	return &fakeBatch{d: d, addrs: append([]drivers.Address(nil), addrs...)}, nil
}

type fakeBatch struct {
	d     *fakeDev
	addrs []drivers.Address
}

func (b *fakeBatch) Read(ctx context.Context, out []drivers.Sample) error {
	return b.d.Read(ctx, b.addrs, out)
}

// --- table and scheduler helpers ---

type tagSpec struct {
	name, addr string
	scan       time.Duration
	rw         bool
}

func device(name, driver string, scan time.Duration, tags ...tagSpec) config.Device {
	d := config.Device{Name: name, Driver: driver, Scan: scan, Options: map[string]any{}}
	for _, ts := range tags {
		ct := config.Tag{Name: ts.name, Address: ts.addr, Type: "float64", Scan: ts.scan}
		if ts.rw {
			ct.Access = "readwrite"
		}
		d.Tags = append(d.Tags, ct)
	}
	return d
}

func compile(t testing.TB, store *mapping.Store, devs ...config.Device) *mapping.Table {
	t.Helper()
	tbl, err := mapping.Compile(&config.Config{Devices: devs}, store)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return tbl
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs s until the test ends; the cleanup checks Run returned.
func start(t testing.TB, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond (bounded: 10 s, 5 ms steps) and fails with what.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func value(tbl *mapping.Table, path string) mapping.Value {
	return tbl.Tag(path).Entry.Load()
}

func statusOf(s *Scheduler, name string) DeviceStatus {
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	return DeviceStatus{}
}

// recMetrics records Metrics calls.
type recMetrics struct {
	mu         sync.Mutex
	scans      int
	errs       map[string]int
	reconnects int
	demoted    int
	writes     map[drivers.Quality]int
}

func newRecMetrics() *recMetrics {
	return &recMetrics{errs: map[string]int{}, writes: map[drivers.Quality]int{}}
}

func (m *recMetrics) ScanDone(string, time.Duration) { m.mu.Lock(); m.scans++; m.mu.Unlock() }
func (m *recMetrics) ReadError(_, c string)          { m.mu.Lock(); m.errs[c]++; m.mu.Unlock() }
func (m *recMetrics) Reconnect(string)               { m.mu.Lock(); m.reconnects++; m.mu.Unlock() }
func (m *recMetrics) Demoted(string)                 { m.mu.Lock(); m.demoted++; m.mu.Unlock() }
func (m *recMetrics) WriteDone(_ string, q drivers.Quality) {
	m.mu.Lock()
	m.writes[q]++
	m.mu.Unlock()
}

func (m *recMetrics) get(fn func(m *recMetrics) int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(m)
}
