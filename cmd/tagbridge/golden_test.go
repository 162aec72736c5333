package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/config"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/{error,expected}.golden and testdata/demo/tagbridge.yaml")

// root is the repository's testdata/ seen from this package.
const root = "../../testdata"

// mustReport lists, for every malformed case, the errors `tagbridge
// validate` has to print (each a substring of one line: key path and what is
// wrong). The golden files pin the exact text; this list keeps an -update
// from blessing a lost error.
var mustReport = map[string][]string{
	"unknown-type": {
		`devices[0].tags[0].type: unknown type "flaot32" (line 9)`,
		`devices[0].tags[1].type: unknown type "real" (line 12)`,
	},
	"unknown-keys": {
		`gatway: unknown key`,
		`gateway.log.levle: unknown key`,
		`opcua.anonymus: unknown key`,
		`metrics.path: unknown key`,
		`devices[0].sacn: unknown key`,
		`devices[0].tags[0].unti: unknown key`,
		`devices[0].tags[0].scale.ofset: unknown key`,
		`devices[0].tags[0].deadband.abs: unknown key`,
	},
	"duplicate-devices": {`devices[2].name: duplicate device name "press1"`},
	"duplicate-tags": {
		`devices[0].tags[1].name: duplicate tag path "Line1/Press/Speed"`,
		`devices[1].tags[0].name: duplicate tag path "Line1/Press/Hydraulics/Pressure"`,
	},
	"bad-scan": {
		`devices[0].scan: must be > 0, not 0s`,
		`devices[1].scan: must be > 0, not -1s`,
		`devices[1].tags[0].scan: must be > 0, not -250ms`,
	},
	"modbus-options": {
		`devices[0].options`, `"colour": unknown option`,
		`devices[1].options`, `unknown transport "tpc"`,
		`devices[2].options`, `"unit_id": 300 out of range`,
		`devices[3].options`, `"max_registers": 200 out of range 1..125`,
	},
	"modbus-addresses": {
		`devices[0].tags[0].address: `, `"40000": register 0 does not exist`,
		`devices[0].tags[1].address: `, `hr:70000 out of range`,
		`devices[0].tags[2].address: `, `type must be bool, not float32`,
		`devices[0].tags[3].address: `, `string needs length`,
		`devices[0].tags[4].address: `, `bit 16 out of range`,
		`devices[0].tags[5].address: `, `"holding 5"`,
	},
	"sim-addresses": {
		`devices[0].tags[0].address: `, `unknown kind "sinus"`,
		`devices[0].tags[1].address: `, `period 0s must be > 0`,
		`devices[0].tags[2].address: `, `periode`,
		`devices[0].tags[3].address: `, `unknown type "float33"`,
		`devices[0].tags[4].address: `, `step`,
	},
	"unknown-driver": {
		`devices[0].driver: unknown driver "opcda"`,
		`devices[1].driver: unknown driver "modbsu"`,
	},
	"bad-scale-deadband": {
		`devices[0].tags[0].scale: use either raw/eng or gain/offset, not both`,
		`devices[0].tags[1].scale.raw: low and high are both 5`,
		`devices[0].tags[2].scale.raw`,
		`devices[0].tags[3].scale: scale on a string tag`,
		`devices[0].tags[4].deadband.absolute: must be >= 0, not -1`,
		`devices[0].tags[5].deadband.percent: must be between 0 and 100, not 200`,
		`devices[0].tags[6].deadband: use either absolute or percent, not both`,
	},
	"bad-security": {
		`opcua.security[1]: "basic128rsa15" is deprecated`,
		`opcua.security[2]: "Basic256Sha256" is not allowed`,
		`opcua.security[3]: "aes256" is not one of`,
		`opcua.anonymous: anonymous clients never write`,
		`opcua.users[0].password_hash: is not a bcrypt hash`,
		`opcua.users[0].role: "admin" is not one of read, write`,
		`opcua.users[1].name: duplicate user "operator"`,
		`opcua.users[2].name: must not be empty`,
	},
	"syntax-error": {`line 4: YAML syntax`},
	"env-unset": {
		`opcua.listen: environment variable TB_GOLDEN_NEVER_SET_LISTEN is not set (line 3)`,
		`devices[0].options.address: environment variable TB_GOLDEN_NEVER_SET_HOST is not set (line 7)`,
	},
	"many-mistakes": {
		`gateway.log.level: "verbose" is not one of`,
		`opcua.listen: environment variable TB_GOLDEN_NEVER_SET_LISTEN is not set`,
		`opcua.security[1]: "aes256" is not one of`,
		`opcua.anonymous: anonymous clients never write`,
		`opcua.anonymus: unknown key`,
		`opcua.users[0].password_hash: is not a bcrypt hash`,
		`opcua.users[0].role: "admin"`,
		`devices[0].scan: must be > 0, not 0s`,
		`devices[0].options`, `unknown transport "tpc"`, `"unit_id": 300`, `"max_registers": 200`, `"colour": unknown option`,
		`devices[0].tags[0].type: unknown type "flaot32"`,
		`devices[0].tags[1].name: duplicate tag path "press3/Temperature"`,
		`devices[1].scan: must be > 0, not -1s`,
		`devices[1].tags[0].address: `, `"40000": register 0 does not exist`,
		`devices[1].tags[1].address: `, `hr:70000 out of range`,
		`devices[1].tags[2].address: `, `type must be bool, not float32`,
		`devices[1].tags[3].address: `, `string needs length`,
		`devices[1].tags[4].address: `, `bit 16 out of range`,
		`devices[1].tags[5].sacle: unknown key`,
		`devices[1].tags[6].scale.raw: low and high are both 5`,
		`devices[1].tags[7].deadband.absolute: must be >= 0`,
		`devices[2].name: duplicate device name "press3"`,
		`devices[2].tags[0].address: `, `unknown kind "sinus"`,
		`devices[2].tags[1].address: `, `period 0s must be > 0`,
		`devices[3].driver: unknown driver "opcda"`,
	},
}

// errorLine is one reported error: a key path and a line, or only a line
// for YAML syntax errors.
var errorLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.\[\]]*: .+ \(line [1-9][0-9]*\)|line [1-9][0-9]*: .+)$`)

// errorHeader is validate's first line: `tagbridge: FILE: N error(s):`.
var errorHeader = regexp.MustCompile(`^tagbridge: (\S+): ([0-9]+) error\(s\):$`)

// TestGolden runs `tagbridge validate` and `tagbridge plan` on every
// testdata/<case>/tagbridge.yaml. A case with error.golden is malformed:
// validate must exit 1 and print exactly the golden (every error with its key
// path and line). A case with expected.golden is valid: validate exits 0 and
// plan prints exactly the golden. `go test ./cmd/tagbridge -run Golden -update`
// rewrites the goldens (then review the diff).
func TestGolden(t *testing.T) {
	t.Parallel()
	syncDemo(t)
	files, err := filepath.Glob(filepath.Join(root, "*", "tagbridge.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases under %s: %v", root, err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		dir := filepath.Dir(file)
		name := filepath.Base(dir)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := runCLI(t, "", "validate", "--config", file)
			malformed := exists(filepath.Join(dir, "error.golden"))
			if *update {
				malformed = v.code != 0
			}
			if _, listed := mustReport[name]; listed != malformed {
				t.Fatalf("case %s: malformed=%v but mustReport lists it=%v\n%s", name, malformed, listed, v)
			}
			if malformed {
				checkMalformed(t, name, dir, file, v)
			} else {
				checkValid(t, dir, file, v)
			}
		})
	}
	for name := range mustReport {
		if !seen[name] {
			t.Errorf("mustReport names case %q but %s/%s/tagbridge.yaml does not exist", name, root, name)
		}
	}
}

func checkMalformed(t *testing.T, name, dir, file string, v cliResult) {
	if v.code != exitInput || v.stdout != "" {
		t.Errorf("validate: want exit 1 and nothing on stdout\n%s", v)
	}
	got := relative(v.stderr)
	compareGolden(t, filepath.Join(dir, "error.golden"), got)

	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	errs := lines
	if m := errorHeader.FindStringSubmatch(lines[0]); m != nil {
		errs = lines[1:]
		if n, _ := strconv.Atoi(m[2]); n != len(errs) {
			t.Errorf("header says %s error(s) but %d lines follow (one error per line, each with its key path and line)", m[2], len(errs))
		}
	} else if len(lines) == 1 {
		// A YAML syntax error: `tagbridge: FILE: line N: ...`.
		errs = []string{strings.TrimPrefix(strings.TrimPrefix(lines[0], "tagbridge: "), "testdata/"+name+"/tagbridge.yaml: ")}
	} else {
		t.Errorf("first line %q is not `tagbridge: FILE: N error(s):`", lines[0])
	}
	for _, l := range errs {
		if !errorLine.MatchString(l) {
			t.Errorf("error line without key path and line number: %q", l)
		}
	}
	for _, want := range mustReport[name] {
		if !strings.Contains(got, want) {
			t.Errorf("validate does not report %q", want)
		}
	}
	// Whatever the loader itself finds (unknown keys, wrong types, unset
	// ${VAR}s) must reach the user too.
	if _, err := config.Load(file); err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			for _, e := range ce {
				if !strings.Contains(got, e.Error()) {
					t.Errorf("config.Load reports %q but validate does not print it", e.Error())
				}
			}
		}
	}
	if p := runCLI(t, "", "plan", "--config", file); p.code != exitInput {
		t.Errorf("plan of a malformed config: want exit 1\n%s", p)
	}
}

func checkValid(t *testing.T, dir, file string, v cliResult) {
	if v.code != exitOK || v.stderr != "" || !strings.Contains(v.stdout, ": ok (") {
		t.Fatalf("validate: want exit 0 and ok\n%s", v)
	}
	p := runCLI(t, "", "plan", "--config", file)
	if p.code != exitOK || p.stderr != "" {
		t.Fatalf("plan: want exit 0 and nothing on stderr\n%s", p)
	}
	compareGolden(t, filepath.Join(dir, "expected.golden"), relative(p.stdout))
}

// relative makes the paths in CLI output independent of where the test runs.
func relative(s string) string {
	return strings.ReplaceAll(s, filepath.ToSlash(root)+"/", "testdata/")
}

func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/tagbridge -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

// syncDemo keeps testdata/demo/tagbridge.yaml equal to the built-in demo, so
// the demo case checks what `tagbridge run` really serves.
func syncDemo(t *testing.T) {
	t.Helper()
	file := filepath.Join(root, "demo", "tagbridge.yaml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, config.DemoYAML(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, config.DemoYAML()) {
		t.Fatalf("%s is not config.DemoYAML() (run go test ./cmd/tagbridge -run Golden -update): %v", file, err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
