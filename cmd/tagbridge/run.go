package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/internal/gateway"
	"github.com/tagbridge/tagbridge/internal/service"
)

// stopGrace bounds shutdown after SIGINT/SIGTERM (DESIGN.md section 4).
const stopGrace = 5 * time.Second

func newRunCmd() *cobra.Command {
	var file, listen string
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [--listen ADDR]",
		Short: "Serve: poll the devices and serve the OPC UA address space",
		Long: "Serve the config given with --config; without it ./tagbridge.yaml, then the system config\n" +
			"(" + service.DefaultConfigPath() + "), and when neither exists the built-in demo (a simulated\n" +
			"press line on the sim driver). SIGHUP or a change of the config file reloads it;\n" +
			"SIGINT/SIGTERM stop within 5 s. Under the Windows service manager it runs as a service.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = os.Getenv("TAGBRIDGE_OPCUA_LISTEN")
			}
			return runGateway(cmd, file, listen)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (default ./tagbridge.yaml, then "+service.DefaultConfigPath()+", else the built-in demo)")
	cmd.Flags().StringVar(&listen, "listen", "", "OPC UA listen address, overrides opcua.listen (e.g. 127.0.0.1:4840; port 0 picks a free port)")
	return cmd
}

// loadConfig picks the config: --config, ./tagbridge.yaml, the system
// config, or the demo.
func loadConfig(file string) (*config.Config, string, error) {
	if file == "" {
		for _, f := range []string{"tagbridge.yaml", service.DefaultConfigPath()} {
			if _, err := os.Stat(f); err == nil {
				file = f
				break
			}
		}
	}
	if file == "" {
		cfg, err := config.Demo()
		return cfg, "built-in demo", err
	}
	cfg, err := gateway.Load(context.Background(), file)
	return cfg, file, err
}

func runGateway(cmd *cobra.Command, file, listen string) error {
	cfg, source, err := loadConfig(file)
	if err != nil {
		return inputErr(err) // every error, with its key path and line
	}
	logOut := cmd.ErrOrStderr()
	if service.IsService() {
		if w, err := service.OpenLog("Tagbridge"); err == nil {
			defer w.Close()
			logOut = w
		}
	}
	log := gateway.NewLogger(logOut, cfg.Gateway.Log)
	log.Info("tagbridge starting", "version", version, "config", source)

	gw, err := gateway.New(cmd.Context(), cfg, gateway.Options{Logger: log, Version: version, Commit: commit, Listen: listen})
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			return inputErr(fmt.Errorf("%s: %d error(s):\n%w", source, len(ce), ce))
		}
		return runtimeErr(err)
	}
	reload := func(ctx context.Context, why string) {
		if cfg.File == "" {
			log.Warn("reload ignored: running the built-in demo", "trigger", why)
			return
		}
		if err := gw.ReloadFile(ctx, cfg.File); err != nil {
			log.Error("config reload rejected; running config unchanged", "trigger", why, "file", cfg.File, "err", err)
			return
		}
		log.Info("config reloaded", "trigger", why, "file", cfg.File)
	}
	serve := func(ctx context.Context) error {
		return serveUntilDone(ctx, gw, cfg, source, log, cmd.OutOrStdout(), reload)
	}

	// Under the Windows service manager: Stop/Shutdown cancel, ParamChange reloads.
	svcCtx, svcCancel := context.WithCancel(context.Background())
	defer svcCancel()
	if handled, err := service.Run("Tagbridge", serve, service.WithReload(func() { reload(svcCtx, "service paramchange") })); handled {
		if err != nil {
			return runtimeErr(err)
		}
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		log.Info("stopping", "grace", stopGrace)
		select {
		case err = <-done:
		case <-time.After(stopGrace):
			return runtimeErr(fmt.Errorf("did not stop within %s", stopGrace))
		}
	}
	if err != nil {
		return runtimeErr(err)
	}
	log.Info("stopped")
	return nil
}

// serveUntilDone runs the gateway with SIGHUP and file-change reloads until
// ctx is done.
func serveUntilDone(ctx context.Context, gw *gateway.Gateway, cfg *config.Config, source string, log *slog.Logger, stdout io.Writer, reload func(context.Context, string)) error {
	hup := make(chan os.Signal, 1)
	notifyHUP(hup)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(ctx, "SIGHUP")
			}
		}
	}()
	if a := os.Getenv("TAGBRIDGE_PPROF"); a != "" { // profiling, opt-in: never on by default
		go func() {
			if err := gateway.ServePprof(ctx, a); err != nil && ctx.Err() == nil {
				log.Warn("pprof server stopped", "addr", a, "err", err)
			}
		}()
		log.Warn("pprof enabled: do not expose this address", "addr", a)
	}
	if cfg.File != "" {
		go func() {
			if err := config.Watch(ctx, cfg.File, func() { reload(ctx, "file change") }); err != nil && ctx.Err() == nil {
				log.Warn("config file watch stopped; SIGHUP still reloads", "file", cfg.File, "err", err)
			}
		}()
	}
	return gw.Run(ctx, func(endpoint string) {
		fmt.Fprintf(stdout, "tagbridge: serving %s on %s\n", source, endpoint)
		if a := gw.MetricsAddr(); a != "" {
			fmt.Fprintf(stdout, "tagbridge: metrics on http://%s/metrics\n", a)
		}
	})
}
