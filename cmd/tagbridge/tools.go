package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagbridge/tagbridge/drivers/modbus/kepware"
	"github.com/tagbridge/tagbridge/internal/gateway"
)

func newPlanCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "plan --config FILE",
		Short: "Print the exact requests each device sends per scan class, and the ratio to the tag count",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := gateway.Load(cmd.Context(), file) // plans only what validate accepts
			if err != nil {
				return inputErr(err)
			}
			plans, err := gateway.Plan(cmd.Context(), cfg)
			if err != nil {
				return inputErr(err)
			}
			if err := gateway.WritePlan(cmd.OutOrStdout(), plans); err != nil {
				return runtimeErr(err)
			}
			for _, p := range plans {
				if p.Err != nil {
					return inputErr(fmt.Errorf("device %s: %w", p.Device, p.Err))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (required)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func newProbeCmd() *cobra.Command {
	probe := &cobra.Command{Use: "probe", Short: "Read a device once and print what is there"}
	var (
		transport, address, port, parity, start string
		unit, count, baud, stopBits             int
		timeout                                 time.Duration
	)
	mb := &cobra.Command{
		Use:   "modbus --transport tcp --address HOST:PORT --unit 1 --start 40001 --count 4",
		Short: "Read registers once and print every decoding (types x byte/word orders, string, bcd)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := map[string]any{"transport": transport, "unit_id": unit, "timeout": timeout.String()}
			switch transport {
			case "rtu", "ascii":
				opts["port"], opts["baud"], opts["parity"], opts["stop_bits"] = port, baud, parity, stopBits
			default:
				opts["address"] = address
			}
			ctx := cmd.Context()
			err := gateway.ProbeModbus(ctx, opts, start, count, cmd.OutOrStdout())
			var bad *gateway.InputError
			switch {
			case errors.As(err, &bad):
				return inputErr(err)
			case err != nil:
				return runtimeErr(err)
			}
			return nil
		},
	}
	f := mb.Flags()
	f.StringVar(&transport, "transport", "tcp", "tcp | rtu | ascii | rtu_over_tcp | udp")
	f.StringVar(&address, "address", "127.0.0.1:502", "host:port (tcp, udp, rtu_over_tcp)")
	f.StringVar(&port, "port", "/dev/ttyUSB0", "serial port (rtu, ascii)")
	f.IntVar(&baud, "baud", 19200, "baud rate (rtu, ascii)")
	f.StringVar(&parity, "parity", "N", "N | E | O (rtu, ascii)")
	f.IntVar(&stopBits, "stop-bits", 1, "1 | 2 (rtu, ascii)")
	f.IntVar(&unit, "unit", 1, "unit (slave) id")
	f.StringVar(&start, "start", "40001", "first address: 40001, 300001, hr:0, ir:0x10, coil:0 ...")
	f.IntVar(&count, "count", 4, "registers (or bits) to read")
	f.DurationVar(&timeout, "timeout", time.Second, "response timeout")
	probe.AddCommand(mb)
	return probe
}

func newImportCmd() *cobra.Command {
	imp := &cobra.Command{Use: "import", Short: "Convert tag lists from other gateways into Tagbridge YAML"}
	imp.AddCommand(&cobra.Command{
		Use:   "kepware FILE.csv",
		Short: "KEPServerEX tag CSV export -> YAML tags on stdout (warnings on stderr)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return inputErr(err)
			}
			defer f.Close()
			warnings, err := kepware.Convert(f, cmd.OutOrStdout())
			for _, w := range warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: %s\n", args[0], w)
			}
			if err != nil {
				return inputErr(fmt.Errorf("%s: %w", args[0], err))
			}
			return nil
		},
	})
	return imp
}
