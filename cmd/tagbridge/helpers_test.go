package main

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
)

// cliResult is what a user sees after one tagbridge invocation.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process exactly as main does, with stdin as input.
func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	var in io.Reader = strings.NewReader(stdin)
	code := execute(args, in, &out, &errOut)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

func (r cliResult) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}
