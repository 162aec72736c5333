// Command tagbridge is the Tagbridge gateway: Modbus and MTConnect devices in,
// one OPC UA address space out. See README.md and docs/.
//
// This package only wires the CLI to the packages that do the work.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	_ "github.com/tagbridge/tagbridge/drivers/all"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes (DESIGN.md section 4).
const (
	exitOK      = 0
	exitInput   = 1 // bad input or config
	exitRuntime = 2 // runtime failure
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func inputErr(err error) error   { return &exitError{exitInput, err} }
func runtimeErr(err error) error { return &exitError{exitRuntime, err} }

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "tagbridge:", ee.err)
		}
		return ee.code
	}
	// cobra usage errors (unknown flag or command) are bad input.
	fmt.Fprintln(stderr, "tagbridge:", err)
	return exitInput
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "tagbridge",
		Short:         "Protocol gateway: Modbus and MTConnect devices in, one OPC UA address space out",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newRunCmd(),
		newValidateCmd(),
		newVersionCmd(),
	)
	addExtraCommands(root)
	return root
}
