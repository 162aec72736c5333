package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/error.golden")

// TestGolden loads every testdata/<case>/tagbridge.yaml and compares what a
// user would see (`tagbridge validate` prints the same errors) with
// error.golden. A valid case's golden is "ok" and one line per tag, so it
// also pins what the file decodes to.
func TestGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/*/tagbridge.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := render(parse(data, file, noEnv))
			golden := filepath.Join(dir, "error.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s\n--- got\n%s--- want\n%s", file, golden, got, want)
			}
		})
	}
}

func render(c *Config, err error) string {
	if err != nil {
		return err.Error() + "\n"
	}
	var b strings.Builder
	b.WriteString("ok\n")
	for i := range c.Devices {
		d := &c.Devices[i]
		for j := range d.Tags {
			tg := &d.Tags[j]
			fmt.Fprintf(&b, "%s address=%s type=%s scan=%v access=%s\n", d.TagPath(tg), tg.Address, tg.Type, tg.Scan, tg.Access)
		}
	}
	return b.String()
}
