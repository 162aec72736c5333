// Command bench is Tagbridge's scenario runner: it starts in-process Modbus
// TCP peers (simonvetter's server on 127.0.0.1), the real tagbridge binary
// with a generated config, and a gopcua client, measures each scenario over
// a bounded window and prints one Markdown row per scenario (and writes the
// table into docs/benchmarks.md between the bench markers).
//
//	go run ./test/bench                     # the default set
//	go run ./test/bench -short              # the CI version, < 2 minutes
//	go run ./test/bench -scenario tags100k_1s_10dev,items100k_100ms -duration 60s
//
// It owns nothing but the harness: it imports no Tagbridge package and
// drives the gateway only through its CLI, its OPC UA server, its /metrics
// endpoint and /proc, as a user would.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		names    = flag.String("scenario", "", "comma-separated scenarios (default: every scenario that is not opt-in; \"all\": every one)")
		duration = flag.Duration("duration", 0, "measurement window per scenario (default 20s; -short: 4s)")
		warmup   = flag.Duration("warmup", 0, "warm-up before each window (default 10s; -short: 3s)")
		out      = flag.String("out", "", "Markdown file to update between the bench markers (e.g. docs/benchmarks.md); empty: stdout only")
		bin      = flag.String("bin", "", "tagbridge binary (default: go build ./cmd/tagbridge into a temp dir)")
		short    = flag.Bool("short", false, "CI version: short windows, fewer reconnect cycles")
		repeat   = flag.Int("repeat", 1, "run each scenario this many times and report medians")
		list     = flag.Bool("list", false, "list the scenarios and exit")
		verbose  = flag.Bool("v", false, "print per-device counts")
		pprofDir = flag.String("pprof", "", "directory for gateway profiles: CPU over the window and heap at its end, per scenario (the gateway serves pprof when "+pprofEnv+" is set)")
	)
	flag.Parse()
	all := scenarios()
	if *list {
		for _, s := range all {
			opt := ""
			if s.optIn {
				opt = " (opt-in)"
			}
			fmt.Printf("%-18s %s%s\n", s.name, s.setup, opt)
		}
		return 0
	}
	chosen, err := pick(all, *names)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	o := opts{short: *short, duration: *duration, warmup: *warmup, verbose: *verbose, pprofDir: *pprofDir}
	if o.duration <= 0 {
		o.duration = 20 * time.Second
		if o.short {
			o.duration = 4 * time.Second
		}
	}
	if o.warmup <= 0 {
		o.warmup = 10 * time.Second
		if o.short {
			o.warmup = 3 * time.Second
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "tagbridge-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	o.dir = dir
	o.bin = *bin
	if o.bin == "" {
		fmt.Println("bench: building ./cmd/tagbridge")
		if o.bin, err = buildGateway(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
	}
	fmt.Printf("bench: %s\nbench: window %s, warm-up %s, %d scenario(s)\n", machine(), o.duration, o.warmup, len(chosen))

	var rows []*result
	failed := false
	for _, s := range chosen {
		var reps []*result
		for i := range max(*repeat, 1) {
			res := newResult(s.name, s.setup)
			res.Target, res.Neuron = s.target, s.neuron
			t0 := time.Now()
			o.scenario = s.name
			if i > 0 {
				o.scenario = fmt.Sprintf("%s.%d", s.name, i+1)
			}
			fmt.Printf("bench: %s (run %d) ...\n", s.name, i+1)
			if err := s.run(ctx, o, res); err != nil {
				res.Failed = true
				res.note("FAILED: %s", firstLine(err.Error()))
				fmt.Fprintf(os.Stderr, "bench: %s: %v\n", s.name, err)
			}
			fmt.Printf("bench: %s done in %s\n", s.name, time.Since(t0).Round(100*time.Millisecond))
			reps = append(reps, res)
			if ctx.Err() != nil {
				break
			}
		}
		r := medianOf(reps)
		failed = failed || r.Failed
		rows = append(rows, r)
		fmt.Print(markdownTable([]*result{r}))
		if ctx.Err() != nil {
			break
		}
	}
	command := "go run ./test/bench " + strings.Join(os.Args[1:], " ")
	body := block(rows, strings.TrimSpace(command))
	fmt.Println()
	fmt.Print(body)
	if *out != "" {
		if err := writeDoc(*out, body); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		fmt.Printf("bench: wrote %s\n", *out)
	}
	if failed {
		return 2
	}
	return 0
}

// pick resolves -scenario.
func pick(all []scenario, names string) ([]scenario, error) {
	if names == "" || names == "all" {
		var out []scenario
		for _, s := range all {
			if names == "all" || !s.optIn {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []scenario
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(all, func(s scenario) bool { return s.name == n })
		if i < 0 {
			var known []string
			for _, s := range all {
				known = append(known, s.name)
			}
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
