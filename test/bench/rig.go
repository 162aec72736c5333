package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gopcua/opcua"
	"golang.org/x/crypto/bcrypt"
)

// opts are the command-line settings every scenario sees.
type opts struct {
	short    bool
	duration time.Duration // measurement window
	warmup   time.Duration
	bin      string
	dir      string // scratch directory (configs, logs)
	verbose  bool
	pprofDir string // capture gateway profiles here ("" = off)
	scenario string // name of the running scenario (profile file names)
}

// rigSpec describes the peers and gateway of one scenario.
type rigSpec struct {
	devices    int
	tags       int // total float32 tags, spread over the devices
	perDevice  []int
	scan       time.Duration
	blackholed int // the last n devices point at a black hole
	writeTag   bool
	backoffMin time.Duration
	backoffMax time.Duration
	clock      time.Duration // value change period (default: scan)
}

// rig is one running setup: peers, gateway, and optionally an OPC UA client.
type rig struct {
	clock   *clock
	peers   []*peer // healthy peers, in device order
	holes   []*blackHole
	devs    []genDevice
	cfg     genConfig
	gw      *gateway
	ua      *opcua.Client
	ns      uint16
	coll    *collector
	stop    context.CancelFunc // ends the client goroutines
	verbose bool
	prof    *profiler // nil unless -pprof
}

const (
	appURI    = "urn:tagbridge:bench"
	benchUser = "bench"
	benchPass = "bench-write-pass"
)

func startRig(ctx context.Context, o opts, s rigSpec) (_ *rig, err error) {
	period := s.clock
	if period == 0 {
		period = s.scan
	}
	r := &rig{clock: startClock(period), verbose: o.verbose}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	counts := s.perDevice
	if counts == nil {
		counts = spread(s.tags, s.devices)
	}
	for i, n := range counts {
		d := genDevice{Name: fmt.Sprintf("dev%02d", i), Tags: n, Scan: s.scan, WriteTag: s.writeTag}
		if i >= len(counts)-s.blackholed {
			b, err := startBlackHole()
			if err != nil {
				return nil, err
			}
			r.holes = append(r.holes, b)
			d.Address = b.addr()
		} else {
			p := newPeer(d.Name, r.clock)
			if err := p.start(); err != nil {
				return nil, err
			}
			r.peers = append(r.peers, p)
			d.Address = p.addr
		}
		r.devs = append(r.devs, d)
	}
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPass), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	r.cfg = genConfig{AppURI: appURI, MetricsListen: metrics, BackoffMin: s.backoffMin, BackoffMax: s.backoffMax, Devices: r.devs}
	if s.writeTag {
		r.cfg.User, r.cfg.PasswordHash = benchUser, string(hash)
	}
	dir, err := os.MkdirTemp(o.dir, "run-")
	if err != nil {
		return nil, err
	}
	start := 30 * time.Second
	if s.tags > 20000 {
		start = 3 * time.Minute
	}
	var env []string
	if o.pprofDir != "" {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		r.prof = &profiler{dir: o.pprofDir, name: o.scenario, addr: a}
		env = append(env, pprofEnv+"="+a)
	}
	if r.gw, err = startGateway(ctx, o.bin, dir, r.cfg, start, env...); err != nil {
		return nil, err
	}
	return r, nil
}

// subscribe connects a client and monitors share (0..1] of every device's
// tags at the publishing interval, in subscriptions of at most 5000 items.
func (r *rig) subscribe(ctx context.Context, share float64, interval time.Duration) (int, error) {
	if err := r.connect(ctx); err != nil {
		return 0, err
	}
	r.coll = &collector{clock: r.clock}
	nodes := tagNodes(r.ns, r.devs, share)
	cctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	return len(nodes), subscribeAll(cctx, r.ua, nodes, interval, 5000, r.coll)
}

func (r *rig) connect(ctx context.Context) error {
	if r.ua != nil {
		return nil
	}
	user, pass := "", ""
	if r.cfg.User != "" {
		user, pass = benchUser, benchPass
	}
	c, err := connectUA(ctx, r.gw.endpoint, user, pass)
	if err != nil {
		return err
	}
	r.ua = c
	ns, err := c.FindNamespace(ctx, appURI)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", appURI, err)
	}
	r.ns = ns
	return nil
}

func (r *rig) close() {
	if r.stop != nil {
		r.stop()
	}
	if r.ua != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = r.ua.Close(ctx)
		cancel()
	}
	if r.gw != nil {
		r.gw.stop()
	}
	for _, p := range r.peers {
		p.stop()
	}
	for _, b := range r.holes {
		b.close()
	}
	r.clock.close()
}

// snapshot is the state of the rig at one instant.
type snapshot struct {
	proc     procSample
	procErr  error
	metrics  []promSample
	requests []int64 // per healthy peer
	regs     []int64
}

func (r *rig) snap(ctx context.Context) snapshot {
	s := snapshot{}
	s.proc, s.procErr = readProc(r.gw.pid())
	s.metrics = scrape(ctx, r.gw.metrics)
	for _, p := range r.peers {
		q, g := p.counters()
		s.requests = append(s.requests, q)
		s.regs = append(s.regs, g)
	}
	return s
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// measure waits the warm-up, then measures over the window: the generic
// columns of a row (RSS, CPU, scans/s, tags/s, requests per scan,
// notifications/s, end-to-end latency).
func (r *rig) measure(ctx context.Context, o opts, res *result) error {
	if err := sleepCtx(ctx, o.warmup); err != nil {
		return err
	}
	if !r.gw.alive() {
		return fmt.Errorf("gateway exited during warm-up:\n%s", r.gw.logTail(20))
	}
	if r.coll != nil {
		r.coll.measuring.Store(true)
	}
	if r.prof != nil {
		r.prof.startCPU(ctx, o.duration)
	}
	a := r.snap(ctx)
	maxRSS := a.proc.rssKB
	end := time.Now().Add(o.duration)
	for time.Now().Before(end) {
		if err := sleepCtx(ctx, min(time.Second, time.Until(end))); err != nil {
			return err
		}
		if p, err := readProc(r.gw.pid()); err == nil {
			maxRSS = max(maxRSS, p.rssKB)
		}
	}
	b := r.snap(ctx)
	if r.coll != nil {
		r.coll.measuring.Store(false)
	}
	if r.prof != nil {
		if err := r.prof.finish(ctx); err != nil {
			res.note("no profile: %s", err)
		} else if r.verbose {
			fmt.Printf("  profiles in %s: %s.cpu.pprof, %s.heap.pprof\n", r.prof.dir, r.prof.name, r.prof.name)
		}
	}
	if a.procErr != nil || b.procErr != nil {
		return fmt.Errorf("gateway /proc: %w", errors.Join(a.procErr, b.procErr))
	}
	wall := b.proc.at.Sub(a.proc.at).Seconds()
	res.RSSMB = float64(maxRSS) / 1024
	res.CPU = cores(a.proc, b.proc)
	r.fillPolling(res, a, b, a.proc.at, b.proc.at)
	if r.coll != nil {
		res.NotifPerS = float64(r.coll.counted.Load()) / wall
		lat := r.coll.latencies()
		res.E2EP50, res.E2EP99 = percentile(lat, 50), percentile(lat, 99)
		if bad := r.coll.bad.Load(); bad > 0 {
			res.note("%d notifications not Good", bad)
		}
	}
	if v, ok := metricSum(b.metrics, "go_goroutines", nil); ok {
		res.Goroutines = v
	}
	return nil
}

// fillPolling computes scans/s, tags/s and requests per scan from what the
// peers saw between two snapshots (server side). Requests per scan are
// counted per scan (the requests between one scan's first request and the
// next's), over the scans that started and ended in the window.
func (r *rig) fillPolling(res *result, a, b snapshot, from, to time.Time) {
	wall := to.Sub(from).Seconds()
	var scans, regs, done, reqs, minReq float64
	worst := 0.0
	for i, p := range r.peers {
		ss := p.scansBetween(from, to)
		scans += float64(len(ss))
		regs += float64(b.regs[i] - a.regs[i])
		if len(ss) < 2 {
			continue
		}
		ss = ss[:len(ss)-1] // the last one may still be running
		q := 0
		for _, s := range ss {
			q += s.requests
		}
		m := float64(minRequests(r.devs[i].Tags, maxRegisters))
		if r.devs[i].WriteTag {
			m++
		}
		n := float64(len(ss))
		done += n
		reqs += float64(q)
		minReq += n * m
		worst = max(worst, float64(q)/n/m)
		if r.verbose {
			fmt.Printf("  %s: %d tags, %.0f scans, %d requests (min %.0f/scan)\n", r.devs[i].Name, r.devs[i].Tags, n, q, m)
		}
	}
	res.ScansPerS = scans / wall
	res.TagsPerS = regs / 2 / wall
	if done > 0 && minReq > 0 {
		res.ReqPerScan = reqs / done
		res.MinPerScan = minReq / done
		res.PlanRatio = reqs / minReq
		res.PlanWorst = worst
	}
}
