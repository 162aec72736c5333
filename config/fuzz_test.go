package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any bytes give a config or errors, never a panic or a hang; an
// error is always config.Errors with a message; a config that parses clean
// validates clean again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/tagbridge.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add(demoYAML)
	f.Add([]byte("devices: &a [*a]\n"))
	f.Add([]byte("x: &a {<<: *a}\n"))
	f.Add([]byte("devices:\n  - {<<: [{name: a}, {driver: sim}], tags: [{name: ${X:-T}, address: $${x}, type: int16}]}\n"))
	f.Add([]byte("\t"))
	f.Add([]byte("---\n---\n"))
	lookup := func(k string) (string, bool) {
		if k == "X" {
			return "1", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "fuzz.yaml", lookup)
		if err == nil {
			if c == nil {
				t.Fatal("nil config and nil error")
			}
			if es := c.Validate(); es != nil {
				t.Fatalf("clean parse, then Validate: %v", es)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %T %v is not config.Errors", err, err)
		}
		for _, e := range es {
			if e.Msg == "" {
				t.Fatalf("empty message in %v", es)
			}
		}
	})
}
