package main

import "github.com/spf13/cobra"

// addExtraCommands adds the tool commands (plan, probe, import, passwd).
func addExtraCommands(root *cobra.Command) {
	root.AddCommand(newPlanCmd(), newProbeCmd(), newImportCmd(), newPasswdCmd())
}
