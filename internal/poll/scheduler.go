package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

// Options configures a Scheduler. The zero value is usable.
type Options struct {
	Logger  *slog.Logger // nil: slog.Default()
	Metrics Metrics      // nil: no metrics
}

// Scheduler polls every device of a tag table, one goroutine per device.
// Its methods are safe for concurrent use.
type Scheduler struct {
	log     *slog.Logger
	met     Metrics
	applyCh chan applyReq

	mu       sync.Mutex
	tbl      *mapping.Table
	running  bool
	runDone  chan struct{}      // closed when the current Run returns
	runners  map[string]*runner // by device name
	stopping map[string]*runner // removed by Apply, maybe still closing
}

type applyReq struct {
	tbl  *mapping.Table
	done chan error
}

// New returns a scheduler for tbl. Nothing runs until Run.
func New(tbl *mapping.Table, opt Options) *Scheduler {
	s := &Scheduler{
		log:     opt.Logger,
		met:     opt.Metrics,
		applyCh: make(chan applyReq),
		tbl:     tbl,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.met == nil {
		s.met = noMetrics{}
	}
	if s.tbl == nil {
		s.tbl = &mapping.Table{}
	}
	return s
}

// Run starts one goroutine per device of the table and polls until ctx is
// done. It returns nil after ctx is done and every device goroutine has
// stopped and closed its device; a driver that honours the context of its
// Read stops within one per-scan timeout (at most 5 s). Run returns an
// error only if it is already running.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("poll: Run called while already running")
	}
	s.running = true
	runDone := make(chan struct{})
	s.runDone = runDone
	s.runners = map[string]*runner{}
	s.stopping = map[string]*runner{}
	tbl := s.tbl
	s.mu.Unlock()

	var wg sync.WaitGroup
	s.apply(ctx, tbl, &wg)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case req := <-s.applyCh:
			s.apply(ctx, req.tbl, &wg)
			req.done <- nil
		}
	}

	s.mu.Lock()
	for _, r := range s.runners {
		r.cancel()
	}
	s.mu.Unlock()
	s.waitStopped(&wg)

	s.mu.Lock()
	s.running = false
	s.stopping = nil
	close(runDone)
	s.mu.Unlock()
	return nil
}

// waitStopped waits for every device goroutine, naming the ones that take
// long (a driver that ignores its context) so an operator knows which.
func (s *Scheduler) waitStopped(wg *sync.WaitGroup) {
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-all:
		return
	case <-t.C:
	}
	for _, st := range s.Status() {
		if st.State != StateStopped {
			s.log.Warn("device slow to stop", "device", st.Name, "driver", st.Driver, "state", st.State)
		}
	}
	<-all
}

// Apply replaces the tag table (hot reload) as a diff by Device.Hash:
// an unchanged device keeps its goroutine and connection and keeps polling
// without a gap (it switches to the new table's Tags for the same paths);
// a changed device is stopped and started again (the new one opens only
// after the old one has closed); a removed device stops (the caller removes
// its store entries); an added device starts. Apply validates first and
// changes nothing on error (nil table, duplicate or empty device names,
// unknown driver). Before Run, or after Run returned, Apply only replaces
// the table the next Run starts from. Apply never waits for a device.
func (s *Scheduler) Apply(tbl *mapping.Table) error {
	if err := validate(tbl); err != nil {
		return err
	}
	s.mu.Lock()
	running, runDone := s.running, s.runDone
	if !running {
		s.tbl = tbl
	}
	s.mu.Unlock()
	if !running {
		return nil
	}
	req := applyReq{tbl: tbl, done: make(chan error, 1)}
	select {
	case s.applyCh <- req:
		return <-req.done
	case <-runDone:
		s.mu.Lock()
		s.tbl = tbl
		s.mu.Unlock()
		return nil
	}
}

func validate(tbl *mapping.Table) error {
	if tbl == nil {
		return errors.New("poll: apply: nil table")
	}
	seen := map[string]bool{}
	var errs []error
	for i, d := range tbl.Devices {
		if d == nil || d.Name == "" {
			errs = append(errs, fmt.Errorf("poll: apply: device %d has no name", i))
			continue
		}
		if seen[d.Name] {
			errs = append(errs, fmt.Errorf("poll: apply: duplicate device %q", d.Name))
		}
		seen[d.Name] = true
		if _, err := drivers.Lookup(d.Driver); err != nil {
			errs = append(errs, fmt.Errorf("poll: apply: device %q: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}

// apply runs on Run's goroutine, so runners inherit Run's context.
func (s *Scheduler) apply(ctx context.Context, tbl *mapping.Table, wg *sync.WaitGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range s.stopping {
		if r.stopped() {
			delete(s.stopping, name)
		}
	}
	next := make(map[string]*runner, len(tbl.Devices))
	for _, d := range tbl.Devices {
		old := s.runners[d.Name]
		if old != nil && d.Hash != "" && d.Hash == old.hash {
			old.retarget(d)
			next[d.Name] = old
			continue
		}
		prev := old
		if old != nil {
			old.log.Info("device config changed, restarting")
			old.cancel()
		} else {
			prev = s.stopping[d.Name]
		}
		delete(s.stopping, d.Name)
		next[d.Name] = s.start(ctx, d, prev, wg)
	}
	for name, old := range s.runners {
		if _, kept := next[name]; !kept {
			old.log.Info("device removed from config, stopping")
			old.cancel()
			s.stopping[name] = old
		}
	}
	s.runners = next
	s.tbl = tbl
}

func (s *Scheduler) start(ctx context.Context, d *mapping.Device, prev *runner, wg *sync.WaitGroup) *runner {
	rctx, cancel := context.WithCancel(ctx)
	r := newRunner(s, d, prev, cancel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		r.run(rctx)
	}()
	return r
}

func (s *Scheduler) runner(device string) *runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runners[device]
}

// Status returns the state of every device of the current table, sorted by
// name. Before Run every device is StateStopped.
func (s *Scheduler) Status() []DeviceStatus {
	s.mu.Lock()
	var out []DeviceStatus
	if len(s.runners) > 0 {
		out = make([]DeviceStatus, 0, len(s.runners))
		for _, r := range s.runners {
			out = append(out, r.status())
		}
	} else {
		for _, d := range s.tbl.Devices {
			if d != nil {
				out = append(out, DeviceStatus{Name: d.Name, Driver: d.Driver, State: StateStopped})
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
