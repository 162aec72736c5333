package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/internal/gateway"
)

// stopGrace bounds shutdown after SIGINT/SIGTERM (DESIGN.md section 4).
const stopGrace = 5 * time.Second

func newRunCmd() *cobra.Command {
	var file, listen string
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [--listen ADDR]",
		Short: "Serve: poll the devices and serve the OPC UA address space",
		Long: "Serve the config given with --config; without it ./tagbridge.yaml, or, when that does not\n" +
			"exist, the built-in demo (a simulated press line on the sim driver).\n" +
			"SIGHUP or a change of the config file reloads it; SIGINT/SIGTERM stop within 5 s.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = os.Getenv("TAGBRIDGE_OPCUA_LISTEN")
			}
			return runGateway(cmd, file, listen)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (default ./tagbridge.yaml, else the built-in demo)")
	cmd.Flags().StringVar(&listen, "listen", "", "OPC UA listen address, overrides opcua.listen (e.g. 127.0.0.1:4840)")
	return cmd
}

// loadConfig picks the config: --config, ./tagbridge.yaml, or the demo.
func loadConfig(file string) (*config.Config, string, error) {
	if file == "" {
		if _, err := os.Stat("tagbridge.yaml"); err == nil {
			file = "tagbridge.yaml"
		}
	}
	if file == "" {
		cfg, err := config.Demo()
		return cfg, "built-in demo", err
	}
	cfg, err := config.Load(file)
	return cfg, file, err
}

func runGateway(cmd *cobra.Command, file, listen string) error {
	cfg, source, err := loadConfig(file)
	if err != nil {
		return inputErr(err)
	}
	log := gateway.NewLogger(cmd.ErrOrStderr(), cfg.Gateway.Log)
	log.Info("tagbridge starting", "version", version, "config", source)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gw, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, Version: version, Commit: commit, Listen: listen})
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			return inputErr(fmt.Errorf("%s: %d error(s):\n%w", source, len(ce), ce))
		}
		return runtimeErr(err)
	}

	reload := func(why string) {
		if cfg.File == "" {
			log.Warn("reload ignored: running the built-in demo", "trigger", why)
			return
		}
		next, err := config.Load(cfg.File)
		if err == nil {
			err = gw.Reload(ctx, next)
		}
		if err != nil {
			log.Error("config reload rejected; running config unchanged", "trigger", why, "file", cfg.File, "err", err)
			return
		}
		log.Info("config reloaded", "trigger", why, "file", cfg.File)
	}
	hup := make(chan os.Signal, 1)
	notifyHUP(hup)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload("SIGHUP")
			}
		}
	}()
	if cfg.File != "" {
		go func() {
			if err := config.Watch(ctx, cfg.File, func() { reload("file change") }); err != nil && ctx.Err() == nil {
				log.Warn("config file watch stopped; SIGHUP still reloads", "file", cfg.File, "err", err)
			}
		}()
	}

	done := make(chan error, 1)
	go func() {
		done <- gw.Run(ctx, func(endpoint string) {
			fmt.Fprintf(cmd.OutOrStdout(), "tagbridge: serving %s on %s\n", source, endpoint)
		})
	}()
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
