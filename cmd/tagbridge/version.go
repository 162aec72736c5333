package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/tagbridge/tagbridge/drivers"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and built-in drivers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "tagbridge %s (commit %s, %s, %s/%s)\ndrivers: %v\n",
				version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, drivers.Names())
			return nil
		},
	}
}
