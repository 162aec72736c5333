package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagbridge/tagbridge/internal/gateway"
)

func newValidateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a config file: every error with its YAML key path and line; exit 1 if any",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := gateway.Load(cmd.Context(), file)
			if err != nil {
				return inputErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d devices)\n", file, len(cfg.Devices))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (required)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
