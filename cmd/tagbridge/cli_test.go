package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestCLIExitCodes pins what a user or a script sees for the simple cases:
// the exit code, and where the message goes.
func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings of stdout
		stderr     []string // substrings of stderr
		noStdout   bool
		emptyError bool // stderr must be empty
	}{
		{name: "version", args: []string{"version"}, code: exitOK,
			stdout: []string{"tagbridge ", "drivers: [modbus mtconnect sim]"}, emptyError: true},
		{name: "validate ok", args: []string{"validate", "--config", filepath.Join(root, "rtu-shared-port", "tagbridge.yaml")},
			code: exitOK, stdout: []string{"ok (2 devices)"}, emptyError: true},
		{name: "validate demo", args: []string{"validate", "-c", filepath.Join(root, "demo", "tagbridge.yaml")},
			code: exitOK, stdout: []string{"ok (3 devices)"}, emptyError: true},
		{name: "validate malformed", args: []string{"validate", "--config", filepath.Join(root, "unknown-type", "tagbridge.yaml")},
			code: exitInput, noStdout: true, stderr: []string{`devices[0].tags[0].type: unknown type "flaot32" (line 9)`}},
		{name: "validate missing file", args: []string{"validate", "--config", missing},
			code: exitInput, noStdout: true, stderr: []string{"missing.yaml", "no such file"}},
		{name: "validate without --config", args: []string{"validate"},
			code: exitInput, noStdout: true, stderr: []string{`"config"`}},
		{name: "run missing config", args: []string{"run", "--config", missing},
			code: exitInput, noStdout: true, stderr: []string{"missing.yaml", "no such file"}},
		{name: "run malformed config", args: []string{"run", "--config", filepath.Join(root, "unknown-type", "tagbridge.yaml"), "--listen", "127.0.0.1:0"},
			code: exitInput, noStdout: true, stderr: []string{`unknown type "flaot32"`}},
		{name: "plan missing config", args: []string{"plan", "--config", missing},
			code: exitInput, noStdout: true, stderr: []string{"missing.yaml"}},
		{name: "unknown command", args: []string{"frobnicate"},
			code: exitInput, noStdout: true, stderr: []string{`unknown command "frobnicate"`}},
		{name: "unknown flag", args: []string{"validate", "--bogus"},
			code: exitInput, noStdout: true, stderr: []string{"unknown flag: --bogus"}},
		{name: "extra argument", args: []string{"version", "extra"},
			code: exitInput, noStdout: true, stderr: []string{"extra"}},
		{name: "import without file", args: []string{"import", "kepware"},
			code: exitInput, noStdout: true},
		{name: "import missing file", args: []string{"import", "kepware", filepath.Join(t.TempDir(), "tags.csv")},
			code: exitInput, noStdout: true, stderr: []string{"tags.csv"}},
		// A mistyped flag value is bad input (exit 1), not a runtime failure; it is
		// refused before any I/O, so the address is never dialled.
		{name: "probe bad start", args: []string{"probe", "modbus", "--address", "127.0.0.1:0", "--start", "40000"},
			code: exitInput, noStdout: true, stderr: []string{"40000"}},
		{name: "probe bad count", args: []string{"probe", "modbus", "--address", "127.0.0.1:0", "--count", "0"},
			code: exitInput, noStdout: true, stderr: []string{"count 0"}},
		{name: "probe bad transport", args: []string{"probe", "modbus", "--transport", "tpc", "--address", "127.0.0.1:0"},
			code: exitInput, noStdout: true, stderr: []string{"tpc"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, "", c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.code, c.code, r)
			}
			for _, s := range c.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q\n%s", s, r)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q\n%s", s, r)
				}
			}
			if c.noStdout && r.stdout != "" {
				t.Errorf("want nothing on stdout\n%s", r)
			}
			if c.emptyError && r.stderr != "" {
				t.Errorf("want nothing on stderr\n%s", r)
			}
		})
	}
}

// TestCLIPasswd: the hash printed for a password read from stdin verifies
// with bcrypt, and nothing but the hash goes to stdout (so it can be piped).
func TestCLIPasswd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, pw string }{
		{"newline", "s3cret pass\n", "s3cret pass"},
		{"crlf", "s3cret\r\n", "s3cret"},
		{"no newline", "s3cret", "s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.in, "passwd", "--cost", "4")
			if r.code != exitOK {
				t.Fatalf("passwd failed\n%s", r)
			}
			hash := strings.TrimSuffix(r.stdout, "\n")
			if strings.Contains(hash, "\n") || !strings.HasPrefix(hash, "$2") {
				t.Fatalf("stdout is not one bcrypt hash: %q", r.stdout)
			}
			if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(tc.pw)); err != nil {
				t.Errorf("hash does not verify the password: %v", err)
			}
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte(tc.pw+"x")) == nil {
				t.Errorf("hash verifies a wrong password")
			}
		})
	}
	t.Run("default cost", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "operator\n", "passwd")
		hash := strings.TrimSpace(r.stdout)
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.DefaultCost {
			t.Errorf("cost %d (%v), want %d\n%s", cost, err, bcrypt.DefaultCost, r)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		for _, in := range []string{"", "\n"} {
			if r := runCLI(t, in, "passwd", "--cost", "4"); r.code != exitInput || r.stdout != "" {
				t.Errorf("empty password %q: want exit 1 and no hash\n%s", in, r)
			}
		}
	})
}

// TestCLIImportKepware: the shipped example CSV converts to YAML tags that,
// placed in a Modbus device, pass `tagbridge validate`.
func TestCLIImportKepware(t *testing.T) {
	t.Parallel()
	csv := filepath.Join(root, "kepware", "example.csv")
	r := runCLI(t, "", "import", "kepware", csv)
	if r.code != exitOK {
		t.Fatalf("import failed\n%s", r)
	}
	if !strings.HasPrefix(r.stdout, "tags:\n") {
		t.Fatalf("stdout does not start with tags:\n%s", r)
	}
	for _, want := range []string{"name: Platen_Temp", `address: "400001"`, "type: float32", "type: bcd32", "name: Coolant/Flow"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("YAML lacks %q\n%s", want, r.stdout)
		}
	}
	// Row 19 uses square-root scaling, which Tagbridge does not have: a
	// warning on stderr, with the row number.
	if !strings.Contains(r.stderr, "row 19") || !strings.Contains(r.stderr, "square root") {
		t.Errorf("want a warning for row 19 on stderr\n%s", r)
	}

	var cfg strings.Builder
	cfg.WriteString("devices:\n  - name: press\n    driver: modbus\n    options: { transport: tcp, address: 127.0.0.1:502 }\n")
	for _, line := range strings.SplitAfter(r.stdout, "\n") {
		if line != "" && line != "\n" {
			cfg.WriteString("    " + line)
		}
	}
	file := filepath.Join(t.TempDir(), "tagbridge.yaml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := runCLI(t, "", "validate", "--config", file); v.code != exitOK {
		t.Errorf("imported tags do not validate\n%s\n--- config\n%s", v, cfg.String())
	}
	if p := runCLI(t, "", "plan", "--config", file); p.code != exitOK || !strings.Contains(p.stdout, "fc3") {
		t.Errorf("imported tags do not plan\n%s", p)
	}
}

// TestCLIImportKepwareBadRow: a bad row is an error naming the row, exit 1.
func TestCLIImportKepwareBadRow(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, csv, want string }{
		{"bad type", "Tag Name,Address,Data Type\nA,400001,Float\nB,400003,Quaternion\n", "row 3"},
		{"bad address", "Tag Name,Address,Data Type\nA,400001,Float\nB,400003,Word\nC,banana,Word\n", "row 4"},
		{"duplicate tag", "Tag Name,Address,Data Type\nA,400001,Word\nA,400002,Word\n", "row 3"},
		{"empty", "", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "tags.csv")
			if err := os.WriteFile(file, []byte(c.csv), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "", "import", "kepware", file)
			if r.code != exitInput || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "tags.csv") {
				t.Errorf("want exit 1 and %q with the file name on stderr\n%s", c.want, r)
			}
		})
	}
}

// TestCLIPlan: plan on a Modbus config prints unit, function code, start,
// count and the requests/tags ratio, and merges what can be merged.
func TestCLIPlan(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "", "plan", "--config", filepath.Join(root, "modbus-tcp-plan", "tagbridge.yaml"))
	if r.code != exitOK {
		t.Fatalf("plan failed\n%s", r)
	}
	for _, want := range []string{
		"device press3 (driver modbus)",
		"unit  fc   start  count  tags",
		"scan 1s: 15 tags in 6 requests",
		// the contiguous block, the bit in 40002 and the string at hr:20 in one read
		"1     fc3  0      25",
		// a gap of 10 registers is read through, one of 500 is not
		"1     fc3  100    11",
		"1     fc3  610    1",
		"1     fc1  0      3",
		"1     fc2  0      1",
		"1     fc4  0      6",
		"total: 7 requests per scan for 16 tags (0.438 requests/tag)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q\n%s", want, r.stdout)
		}
	}
}
