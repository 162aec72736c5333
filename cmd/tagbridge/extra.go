package main

import "github.com/spf13/cobra"

// addExtraCommands adds the commands that come with later issues
// (plan, probe, import, passwd).
func addExtraCommands(root *cobra.Command) {
	root.AddCommand(newPasswdCmd())
}
