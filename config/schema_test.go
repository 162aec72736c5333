package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	t.Parallel()
	src := `gateway:
  name: gw
devices:
  - name: d
    driver: sim
    options:
      seed: 1
    tags:
      - name: A
        address: x
        type: int16
        scale:
          raw: [0, 10]
          eng: [0, 1]
`
	c, err := parse([]byte(src), "f.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for path, line := range map[string]int{
		"gateway": 1, "gateway.name": 2, "devices": 3, "devices[0]": 4, "devices[0].name": 4,
		"devices[0].options.seed": 7, "devices[0].tags[0]": 9, "devices[0].tags[0].type": 11,
		"devices[0].tags[0].scale.raw": 13, "devices[0].tags[0].scale.eng[1]": 14,
	} {
		if got := c.Lines[path]; got != line {
			t.Errorf("Lines[%q] = %d, want %d", path, got, line)
		}
	}
	if c.File != "f.yaml" {
		t.Errorf("File = %q", c.File)
	}
	// Errorf falls back to the closest parent with a line.
	var es Errors
	c.Errorf(&es, "devices[0].tags[0].type", "unknown type %q", "flaot32")
	c.Errorf(&es, "devices[0].tags[0].length", "x")
	if es[0].Error() != `devices[0].tags[0].type: unknown type "flaot32" (line 11)` || es[1].Line != 9 {
		t.Errorf("got %v", es)
	}
}

func TestDecodeValues(t *testing.T) {
	t.Parallel()
	c, err := parse([]byte(`
devices:
  - name: d
    driver: sim
    scan: 1m30s
    enabled: false
    demote_after: 3
    write_timeout: 2.5s
    tags:
      - name: T
        address: "x"
        type: float32
        length: 0
        scale: { gain: 2, offset: -0.5 }
        deadband: { absolute: 1e-3 }
        range: [-1, 1.5]
        options: { bit: 3, Name: KeepValueCase }
      - name: U
        address: ~
        type: int16
        scan: 0
`), "f.yaml", noEnv)
	if err == nil {
		t.Fatal("want an error for the null address")
	}
	if !strings.Contains(err.Error(), "devices[0].tags[1].address: must not be empty (line 19)") {
		t.Errorf("err = %v", err)
	}
	d := c.Devices[0]
	if d.Scan != 90*time.Second || d.IsEnabled() || d.DemoteAfter != 3 || d.WriteTimeout != 2500*time.Millisecond {
		t.Errorf("device = %+v", d)
	}
	tg := d.Tags[0]
	if *tg.Scale.Gain != 2 || *tg.Scale.Offset != -0.5 || tg.Deadband.Absolute != 1e-3 ||
		fmt.Sprint(tg.Range) != "[-1 1.5]" || tg.Scan != 90*time.Second {
		t.Errorf("tag = %+v scale %+v", tg, tg.Scale)
	}
	// Option keys are lowercased by viper; values keep their case.
	if tg.Options["name"] != "KeepValueCase" || tg.Options["bit"] != 3 {
		t.Errorf("options = %#v", tg.Options)
	}
	if d.Tags[1].Scan != 90*time.Second {
		t.Errorf("scan 0 must inherit the device's, got %v", d.Tags[1].Scan)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse([]byte("devices:\n  - {name: press, driver: sim, tags: [{name: T, address: x, type: bool}]}\n"), "", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, o, d := c.Gateway, c.OPCUA, c.Devices[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"gateway.name", g.Name, "tagbridge"},
		{"log.level", g.Log.Level, "info"},
		{"log.format", g.Log.Format, "text"},
		{"opcua.listen", o.Listen, "127.0.0.1:4840"},
		{"application_uri", o.ApplicationURI, "urn:tagbridge:tagbridge"},
		{"security", fmt.Sprint(o.Security), "[none]"},
		{"anonymous", o.Anonymous, "read"},
		{"pki", o.PKI, "./pki"},
		{"auto_trust", o.AutoTrust, false},
		{"metrics.listen", c.Metrics.Listen, ""},
		{"scan", d.Scan, time.Second},
		{"folder", d.Folder, "press"},
		{"demote_after", d.DemoteAfter, 0},
		{"demote_for", d.DemoteFor, 10 * time.Second},
		{"backoff_min", d.BackoffMin, 500 * time.Millisecond},
		{"backoff_max", d.BackoffMax, 30 * time.Second},
		{"write_timeout", d.WriteTimeout, 5 * time.Second},
		{"enabled", d.IsEnabled(), true},
		{"tag access", d.Tags[0].Access, "read"},
		{"tag scan", d.Tags[0].Scan, time.Second},
		{"tag path", d.TagPath(&d.Tags[0]), "press/T"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// Idempotent.
	before := fmt.Sprintf("%+v", *c)
	c.ApplyDefaults()
	if after := fmt.Sprintf("%+v", *c); after != before {
		t.Errorf("second ApplyDefaults changed the config")
	}
}

func TestSchemaOddities(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, src, want string }{
		{"top level not a mapping", "- a\n- b\n", "line 1: the file must be a YAML mapping"},
		{"scalar document", "hello\n", "the file must be a YAML mapping"},
		{"x- only at top level", "devices:\n  - {name: d, driver: sim, x-note: hi}\n", "devices[0].x-note: unknown key (line 2)"},
		{"alias to itself", "devices: &a [*a]\n", "devices"},
		{"merge of a scalar", "devices:\n  - {<<: 5, name: d, driver: sim}\n", "devices[0].<<: merge (<<) needs a mapping"},
		{"key is a list", "gateway: {[a]: 1}\n", "gateway: keys must be plain words, not a list (line 1)"},
		{"nan in range", "devices:\n  - {name: d, driver: sim, tags: [{name: T, address: x, type: int16, range: [.nan, 1]}]}\n", "must be a finite number, not .nan"},
		{"inf gain", "devices:\n  - {name: d, driver: sim, tags: [{name: T, address: x, type: int16, scale: {gain: .inf}}]}\n", "must be a finite number, not .inf"},
		{"huge int", "opcua: {limits: {max_sessions: 99999999999999999999999}}\n", "opcua.limits.max_sessions: must be a whole number"},
		{"deep options", "devices:\n  - {name: d, driver: sim, options: {a: " + strings.Repeat("[", 80) + strings.Repeat("]", 80) + "}}\n", "nested more than"},
		{"bool yes refused", "opcua: {auto_trust: yes}\n", `must be true or false, not "yes"`},
		{"tab indent", "gateway:\n\tname: x\n", "line 2: YAML syntax:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse([]byte(tc.src), "f.yaml", noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// Aliases that fan out exponentially stop at a budget instead of hanging.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x-a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x-a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("devices:\n  - {name: d, driver: sim, options: {bomb: *a8}}\n")
	_, err := parse([]byte(b.String()), "f.yaml", noEnv)
	if err == nil {
		t.Fatal("want an error")
	}
}

// A plant-sized file (100 devices x 100 tags, all sharing an anchor) is well
// inside the alias budget.
func TestLargeConfig(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x-tag: &tag {type: float32, unit: degC, scale: {raw: [0, 27648], eng: [0, 100]}, deadband: {percent: 1}}\ndevices:\n")
	for d := 0; d < 100; d++ {
		fmt.Fprintf(&b, "  - name: plc%d\n    driver: modbus\n    options: {address: '10.0.0.%d:502'}\n    tags:\n", d, d)
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, "      - {<<: *tag, name: T%d, address: '4%04d'}\n", i, 2*i+1)
		}
	}
	c, err := parse([]byte(b.String()), "big.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Devices) * len(c.Devices[99].Tags); n != 10000 || c.Devices[99].Tags[99].Address != "40199" {
		t.Fatalf("%d tags, last %+v", n, c.Devices[99].Tags[99])
	}
}
