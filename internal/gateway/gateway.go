package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/internal/metrics"
	"github.com/tagbridge/tagbridge/internal/poll"
	"github.com/tagbridge/tagbridge/internal/uaserver"
	"github.com/tagbridge/tagbridge/mapping"
)

// Options are process-level settings that do not come from the config file.
type Options struct {
	Logger  *slog.Logger
	Version string
	Commit  string
	// Listen overrides opcua.listen (the --listen flag).
	Listen string
}

// Gateway is one running Tagbridge: store, tag table, scheduler, OPC UA server.
type Gateway struct {
	log   *slog.Logger
	opt   Options
	store *mapping.Store

	mu         sync.Mutex     // guards the fields below across reloads and discovery
	base       *config.Config // the config as the user wrote it
	cfg        *config.Config // base plus discovered points: what runs
	tbl        *mapping.Table
	discovered map[string][]config.Tag // device name -> points found by drivers.Discoverer
	sched      *poll.Scheduler
	ua         *uaserver.Server

	metrics     *metrics.Metrics
	ready       func() (bool, []string)
	listening   atomic.Bool
	metricsAddr string
}

// New validates cfg and builds a gateway. Nothing runs until Run.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Gateway, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Listen != "" {
		cfg.OPCUA.Listen = opt.Listen
	}
	if errs := Validate(ctx, cfg); len(errs) > 0 {
		return nil, errs
	}
	cfg.Compact()
	g := &Gateway{log: opt.Logger, opt: opt, store: mapping.NewStore(), base: cfg, discovered: map[string][]config.Tag{}}
	maps.Copy(g.discovered, g.discoverAll(ctx, g.undiscovered(cfg))) // failures are retried in the background by Run
	g.cfg = g.effective(cfg)
	tbl, err := mapping.Compile(g.cfg, g.store)
	if err != nil {
		return nil, err
	}
	g.tbl = tbl
	g.base, g.cfg = g.light(cfg), g.light(g.cfg)
	g.metrics = g.newMetrics()
	g.sched = poll.New(tbl, poll.Options{Logger: opt.Logger, Metrics: g.metrics})
	g.ua, err = uaserver.New(g.uaOptions(cfg), tbl)
	if err != nil {
		return nil, fmt.Errorf("opcua: %w", err)
	}
	g.attachProviders()
	// Loading, validating and compiling a large config makes a lot of
	// short-lived garbage (0.5 GB for 100k tags); hand it back to the OS
	// now rather than carry the peak for the life of the process.
	debug.FreeOSMemory()
	return g, nil
}

func (g *Gateway) uaOptions(cfg *config.Config) uaserver.Options {
	return uaserver.Options{
		Listen:         cfg.OPCUA.Listen,
		Hostname:       cfg.OPCUA.Hostname,
		ApplicationURI: cfg.OPCUA.ApplicationURI,
		ProductName:    "Tagbridge",
		Version:        g.opt.Version,
		Commit:         g.opt.Commit,
		Security:       cfg.OPCUA.Security,
		Anonymous:      cfg.OPCUA.Anonymous,
		Users:          users(cfg.OPCUA.Users),
		PKIDir:         pkiDir(cfg),
		AutoTrust:      cfg.OPCUA.AutoTrust,
		Limits:         limits(cfg.OPCUA.Limits),
		Logger:         g.log.With("component", "opcua"),
		Writer:         g.sched,
	}
}

// Run starts the OPC UA server and the scheduler and blocks until ctx is
// done; then it closes sessions and devices. ready is called once the server
// listens, with its endpoint URL.
func (g *Gateway) Run(ctx context.Context, ready func(endpoint string)) error {
	if err := g.ua.Start(ctx); err != nil {
		return fmt.Errorf("opcua: listen %s: %w", g.cfg.OPCUA.Listen, err)
	}
	g.listening.Store(true)
	defer g.listening.Store(false)
	if err := g.serveMetrics(ctx); err != nil {
		_ = g.ua.Close()
		return err
	}
	g.log.Info("opc ua server listening", "endpoint", g.ua.EndpointURL(), "tags", len(g.tbl.Tags), "devices", len(g.tbl.Devices))
	if ready != nil {
		ready(g.ua.EndpointURL())
	}
	schedDone := make(chan error, 1)
	go func() { schedDone <- g.sched.Run(ctx) }()
	discDone := make(chan struct{})
	go func() { defer close(discDone); g.rediscover(ctx) }()
	<-ctx.Done()
	<-discDone
	uaErr := g.ua.Close()
	schedErr := <-schedDone
	if errors.Is(schedErr, context.Canceled) {
		schedErr = nil
	}
	return errors.Join(uaErr, schedErr)
}

// MetricsAddr is the address /metrics listens on ("" when off).
func (g *Gateway) MetricsAddr() string { return g.metricsAddr }

// ReloadFile loads path and applies it as Reload does; the outcome is
// counted in tagbridge_config_reloads_total.
func (g *Gateway) ReloadFile(ctx context.Context, path string) error {
	cfg, err := Load(ctx, path) // every check Reload would make, with the decode errors too
	if err == nil {
		err = g.reloadChecked(ctx, cfg)
	}
	g.metrics.ReloadDone(err == nil)
	return err
}

// Reload validates cfg and applies it as a diff. An invalid config changes
// nothing and returns every error.
func (g *Gateway) Reload(ctx context.Context, cfg *config.Config) error {
	if g.opt.Listen != "" {
		cfg.OPCUA.Listen = g.opt.Listen
	}
	if errs := Validate(ctx, cfg); len(errs) > 0 {
		return errs
	}
	return g.reloadChecked(ctx, cfg)
}

// reloadChecked applies a config that has passed Validate.
func (g *Gateway) reloadChecked(ctx context.Context, cfg *config.Config) error {
	if g.opt.Listen != "" {
		cfg.OPCUA.Listen = g.opt.Listen
	}
	cfg.Compact()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !reflect.DeepEqual(cfg.OPCUA, g.base.OPCUA) || cfg.Metrics != g.base.Metrics || cfg.Gateway != g.base.Gateway {
		g.log.Warn("reload: changes to the gateway, opcua and metrics sections take effect at the next restart; devices and tags are applied now")
	}
	for name := range g.discovered { // a device that is gone or no longer auto is discovered anew
		if d, ok := deviceNamed(cfg, name); !ok || !autoDevice(d) {
			delete(g.discovered, name)
		}
	}
	maps.Copy(g.discovered, g.discoverAll(ctx, g.undiscovered(cfg)))
	return g.applyLocked(ctx, cfg)
}

// applyLocked compiles base plus the discovered points and applies the diff
// to the scheduler, the OPC UA address space and the store. g.mu is held.
func (g *Gateway) applyLocked(_ context.Context, base *config.Config) error {
	cfg := g.effective(base)
	tbl, err := mapping.Compile(cfg, g.store)
	if err != nil {
		return err
	}
	if err := g.sched.Apply(tbl); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	g.ua.SetTable(tbl)
	for _, t := range g.tbl.Tags {
		if tbl.Tag(t.Path) == nil {
			g.store.Remove(t.Path)
		}
	}
	for _, d := range g.tbl.Devices {
		if _, still := deviceNamed(cfg, d.Name); !still {
			g.metrics.Forget(d.Name)
		}
	}
	g.base, g.cfg, g.tbl = g.light(base), g.light(cfg), tbl
	return nil
}

func deviceNamed(cfg *config.Config, name string) (config.Device, bool) {
	for _, d := range cfg.Devices {
		if d.Name == name {
			return d, true
		}
	}
	return config.Device{}, false
}

func users(us []config.User) []uaserver.User {
	out := make([]uaserver.User, 0, len(us))
	for _, u := range us {
		out = append(out, uaserver.User{Name: u.Name, PasswordHash: u.PasswordHash, Role: u.Role, Thumbprint: u.Thumbprint})
	}
	return out
}

func limits(l config.Limits) uaserver.Limits {
	return uaserver.Limits{
		MaxSessions:                 l.MaxSessions,
		MaxSubscriptionsPerSession:  l.MaxSubscriptionsPerSession,
		MaxMonitoredItems:           l.MaxMonitoredItems,
		MaxNodesPerRead:             uint32(max(l.MaxNodesPerRead, 0)),
		MaxNodesPerWrite:            uint32(max(l.MaxNodesPerWrite, 0)),
		MaxNodesPerBrowse:           uint32(max(l.MaxNodesPerBrowse, 0)),
		MaxMonitoredItemsPerCall:    uint32(max(l.MaxMonitoredItemsPerCall, 0)),
		MaxBrowseContinuationPoints: l.MaxBrowseContinuationPoints,
		MaxReferencesPerNode:        uint32(max(l.MaxReferencesPerBrowseResult, 0)),
	}
}

// pkiDir resolves opcua.pki: a relative path is relative to the config
// file's folder (so a service finds its PKI whatever its working
// directory), or to the working directory for the built-in demo.
func pkiDir(cfg *config.Config) string {
	dir := cfg.OPCUA.PKI
	if dir == "" || filepath.IsAbs(dir) || cfg.File == "" {
		return dir
	}
	return filepath.Join(filepath.Dir(cfg.File), dir)
}

// light returns cfg without its tag lists once nothing needs them: the tag
// table holds what runs, and a reload brings a whole new config. The tags
// are kept while an auto device still waits for discovery, because applying
// its points recompiles base. With 100k tags this frees tens of megabytes.
func (g *Gateway) light(cfg *config.Config) *config.Config {
	if len(g.undiscovered(cfg)) > 0 {
		return cfg
	}
	c := *cfg
	c.Devices = make([]config.Device, len(cfg.Devices))
	for i, d := range cfg.Devices {
		d.Tags = nil
		c.Devices[i] = d
	}
	return &c
}
