package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
)

func f64(v float64) *float64 { return &v }

// baseConfig is a valid two-device config built in Go (no loader).
func baseConfig() *config.Config {
	return &config.Config{Devices: []config.Device{
		{
			Name: "press3", Driver: "modbus", Scan: time.Second, Folder: "Line1/Press3",
			Options:     map[string]any{"address": "127.0.0.1:502", "nan": "zero"},
			DemoteAfter: 3, BackoffMin: 100 * time.Millisecond,
			Tags: []config.Tag{
				{Name: "Temperature", Address: "40001", Type: "int16", Unit: "degC",
					Scale:    &config.Scale{Raw: []float64{0, 27648}, Eng: []float64{0, 100}, Clamp: true},
					Deadband: &config.Deadband{Absolute: 0.2}, Scan: 250 * time.Millisecond, Description: "Platen"},
				{Name: "Hyd/Pressure", Address: "40003", Type: "float32", ByteOrder: "CDAB",
					Scale: &config.Scale{Gain: f64(0.1), Offset: f64(-40)}, Range: []float64{-40, 400},
					Deadband: &config.Deadband{Percent: 1}},
				{Name: "Counter", Address: "40005", Type: "bcd32"},
				{Name: "Recipe", Address: "40010", Type: "string", Length: 16, Access: "readwrite"},
				{Name: "Setpoint", Address: "40020", Type: "uint16", Access: "readwrite", Range: []float64{0, 1000}},
			},
		},
		{
			Name: "sim1", Driver: "sim", Scan: 500 * time.Millisecond,
			Tags: []config.Tag{{Name: "Wave", Address: "sine:period=10s", Type: "float64"}},
		},
	}}
}

func TestCompile(t *testing.T) {
	t.Parallel()
	store := NewStore()
	tbl, err := Compile(baseConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Devices) != 2 || len(tbl.Tags) != 5+7+1+7 {
		t.Fatalf("devices %d tags %d", len(tbl.Devices), len(tbl.Tags))
	}
	d := tbl.Devices[0]
	if d.Folder != "Line1/Press3" || d.Scan != time.Second || d.Settings.DemoteAfter != 3 || d.Settings.Tags != nil || d.Hash == "" {
		t.Fatalf("device %+v", d)
	}
	temp := tbl.Tag("Line1/Press3/Temperature")
	if temp == nil || temp != d.Tags[0] || temp != tbl.Tags[0] {
		t.Fatal("Temperature not indexed")
	}
	if temp.NodeID != temp.Path || temp.Type != drivers.Float64 || temp.Addr.Type != drivers.Int16 ||
		temp.Scan != 250*time.Millisecond || temp.Addr.Scan != 250*time.Millisecond || temp.Addr.Tag != temp.Path ||
		temp.Range == nil || *temp.Range != [2]float64{0, 100} || temp.NaN != NaNZero || temp.Access != Read ||
		temp.Unit != "degC" || temp.Description != "Platen" || temp.Entry != store.Lookup(temp.Path) {
		t.Fatalf("Temperature %+v", temp)
	}
	if s := temp.Scale; s.Gain != 100.0/27648 || s.Offset != 0 || !s.Clamp || s.EngLow != 0 || s.EngHigh != 100 || !s.HasRange {
		t.Fatalf("scale %+v", s)
	}
	p := tbl.Tag("Line1/Press3/Hyd/Pressure")
	if p.Scale.Gain != 0.1 || p.Scale.Offset != -40 || *p.Range != [2]float64{-40, 400} || p.Addr.Order != "CDAB" || p.Scan != time.Second {
		t.Fatalf("Pressure %+v %+v", p, p.Scale)
	}
	if c := tbl.Tag("Line1/Press3/Counter"); c.Type != drivers.Uint32 || c.Addr.Type != drivers.BCD32 {
		t.Fatalf("Counter %v %v", c.Type, c.Addr.Type)
	}
	if r := tbl.Tag("Line1/Press3/Recipe"); r.Type != drivers.String || r.Addr.Length != 16 || r.Access != ReadWrite {
		t.Fatalf("Recipe %+v", r)
	}
	w := tbl.Tag("sim1/Wave")
	if w == nil || w.NaN != NaNBad || w.Scan != 500*time.Millisecond {
		t.Fatalf("Wave %+v", w)
	}
	st := tbl.Devices[1].Status
	want := map[*Tag]drivers.Type{st.Connected: drivers.Bool, st.State: drivers.String, st.LastError: drivers.String,
		st.ScanTimeMs: drivers.Float64, st.ReadCount: drivers.Uint64, st.ErrorCount: drivers.Uint64, st.Demoted: drivers.Bool}
	for tag, typ := range want {
		if tag.Type != typ || !tag.Status || tag.Access != Read || tag.Entry == nil || tbl.Tag(tag.Path) != tag ||
			!strings.HasPrefix(tag.Path, "_Devices/sim1/") {
			t.Errorf("status tag %+v", tag)
		}
	}
	if st.State.Path != "_Devices/sim1/State" {
		t.Errorf("State path %q", st.State.Path)
	}
	if v := st.Connected.Entry.Load(); v.Quality != drivers.BadWaitingForInitialData {
		t.Errorf("fresh status quality %v", v.Quality)
	}
	if store.Len() != len(tbl.Tags) {
		t.Errorf("store has %d entries for %d tags", store.Len(), len(tbl.Tags))
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tag := func(mod func(*config.Tag)) func(*config.Config) {
		return func(c *config.Config) { mod(&c.Devices[1].Tags[0]) }
	}
	cases := []struct {
		name     string
		mod      func(*config.Config)
		path     string
		contains string
	}{
		{"unknown type", tag(func(t *config.Tag) { t.Type = "flaot32" }), "devices[1].tags[0].type", `unknown type "flaot32"`},
		{"missing type", tag(func(t *config.Tag) { t.Type = "" }), "devices[1].tags[0].type", "type is required"},
		{"string with negative length", tag(func(t *config.Tag) { t.Type = "string"; t.Length = -1 }), "devices[1].tags[0].length", "must be >= 0"},
		{"length on number", tag(func(t *config.Tag) { t.Length = 4 }), "devices[1].tags[0].length", "only to type string"},
		{"scale on bool", tag(func(t *config.Tag) { t.Type = "bool"; t.Scale = &config.Scale{Gain: f64(2)} }), "devices[1].tags[0].scale", "scale on a bool tag"},
		{"scale on string", tag(func(t *config.Tag) { t.Type = "string"; t.Length = 4; t.Scale = &config.Scale{Gain: f64(2)} }), "devices[1].tags[0].scale", "scale on a string tag"},
		{"scale both forms", tag(func(t *config.Tag) {
			t.Scale = &config.Scale{Raw: []float64{0, 1}, Eng: []float64{0, 2}, Gain: f64(2)}
		}), "devices[1].tags[0].scale", "not both"},
		{"scale empty", tag(func(t *config.Tag) { t.Scale = &config.Scale{} }), "devices[1].tags[0].scale", "empty scale"},
		{"scale raw one value", tag(func(t *config.Tag) { t.Scale = &config.Scale{Raw: []float64{0}, Eng: []float64{0, 1}} }), "devices[1].tags[0].scale.raw", "want [low, high]"},
		{"scale raw equal", tag(func(t *config.Tag) { t.Scale = &config.Scale{Raw: []float64{5, 5}, Eng: []float64{0, 1}} }), "devices[1].tags[0].scale.raw", "must differ"},
		{"scale eng missing", tag(func(t *config.Tag) { t.Scale = &config.Scale{Raw: []float64{0, 5}} }), "devices[1].tags[0].scale.eng", "got 0 values"},
		{"gain zero", tag(func(t *config.Tag) { t.Scale = &config.Scale{Gain: f64(0)} }), "devices[1].tags[0].scale.gain", "other than 0"},
		{"clamp without range", tag(func(t *config.Tag) { t.Scale = &config.Scale{Gain: f64(2), Clamp: true} }), "devices[1].tags[0].scale.clamp", "needs the tag's range"},
		{"deadband on bool", tag(func(t *config.Tag) { t.Type = "bool"; t.Deadband = &config.Deadband{Absolute: 1} }), "devices[1].tags[0].deadband", "deadband on a bool tag"},
		{"deadband negative", tag(func(t *config.Tag) { t.Deadband = &config.Deadband{Absolute: -1} }), "devices[1].tags[0].deadband.absolute", ">= 0"},
		{"deadband both", tag(func(t *config.Tag) { t.Range = []float64{0, 1}; t.Deadband = &config.Deadband{Absolute: 1, Percent: 1} }), "devices[1].tags[0].deadband", "exclusive"},
		{"percent without range", tag(func(t *config.Tag) { t.Deadband = &config.Deadband{Percent: 1} }), "devices[1].tags[0].deadband.percent", "needs a range"},
		{"range reversed", tag(func(t *config.Tag) { t.Range = []float64{10, 0} }), "devices[1].tags[0].range", "must be below"},
		{"range on string", tag(func(t *config.Tag) { t.Type = "string"; t.Length = 2; t.Range = []float64{0, 1} }), "devices[1].tags[0].range", "range on a string tag"},
		{"unknown access", tag(func(t *config.Tag) { t.Access = "write" }), "devices[1].tags[0].access", `unknown access "write"`},
		{"missing address", tag(func(t *config.Tag) { t.Address = "" }), "devices[1].tags[0].address", "address is required"},
		{"missing name", tag(func(t *config.Tag) { t.Name = "" }), "devices[1].tags[0].name", "must not be empty"},
		{"empty segment", tag(func(t *config.Tag) { t.Name = "a//b" }), "devices[1].tags[0].name", "empty segment"},
		{"slash at end", tag(func(t *config.Tag) { t.Name = "a/" }), "devices[1].tags[0].name", "must not start or end with '/'"},
		{"folder slash", func(c *config.Config) { c.Devices[1].Folder = "/A" }, "devices[1].folder", "must not start or end with '/'"},
		{"missing device name", func(c *config.Config) { c.Devices[1].Name = "" }, "devices[1].name", "must not be empty"},
		{"duplicate path", func(c *config.Config) {
			c.Devices[1].Tags = append(c.Devices[1].Tags, c.Devices[1].Tags[0])
		}, "devices[1].tags[1].name", `duplicate tag path "sim1/Wave" (also devices[1].tags[0])`},
		{"duplicate across devices", func(c *config.Config) {
			c.Devices[1].Folder = "Line1/Press3"
			c.Devices[1].Tags[0].Name = "Counter"
		}, "devices[1].tags[0].name", "duplicate tag path"},
		{"reserved folder", func(c *config.Config) { c.Devices[1].Folder = "_Devices/x" }, "devices[1].folder", "reserved"},
		{"reserved name as folder", func(c *config.Config) { c.Devices[1].Name = "_Devices" }, "devices[1].name", "reserved"},
		{"slash in device name", func(c *config.Config) { c.Devices[1].Name = "a/b" }, "devices[1].name", "must not contain '/'"},
		{"bad nan policy", func(c *config.Config) { c.Devices[1].Options = map[string]any{"nan": "drop"} }, "devices[1].options.nan", `unknown nan policy "drop"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig()
			tc.mod(cfg)
			store := NewStore()
			tbl, err := Compile(cfg, store)
			if tbl != nil || err == nil {
				t.Fatal("want an error")
			}
			var es config.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not config.Errors", err)
			}
			found := false
			for _, e := range es {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.contains) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s: ...%s...; got:\n%v", tc.path, tc.contains, err)
			}
			if store.Len() != 0 {
				t.Errorf("a failed compile touched the store (%d entries)", store.Len())
			}
		})
	}
}

func TestCompileReportsEveryErrorWithLine(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Lines = map[string]int{"devices[0].tags[2].type": 42, "devices[1].tags[0]": 50}
	cfg.Devices[0].Tags[2].Type = "flaot32"
	cfg.Devices[1].Tags[0].Deadband = &config.Deadband{Percent: 2}
	cfg.Devices[1].Tags[0].Access = "rw"
	_, err := Compile(cfg, NewStore())
	es, _ := err.(config.Errors)
	if len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	if got := es[0].Error(); got != `devices[0].tags[2].type: unknown type "flaot32" (line 42)` {
		t.Errorf("first error %q", got)
	}
	for _, e := range es[1:] {
		if e.Line != 50 { // falls back to the closest parent with a line
			t.Errorf("%v: line %d", e, e.Line)
		}
	}
}

func TestCompileReload(t *testing.T) {
	t.Parallel()
	store := NewStore()
	a, err := Compile(baseConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	a.Tag("sim1/Wave").SetValue(1.5, time.Now())

	cfg := baseConfig()
	cfg.Devices[0].Tags[0].Deadband.Absolute = 0.5 // press3 changed
	cfg.Devices[1].Tags[0].Type = "float64"        // sim1 unchanged
	b, err := Compile(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if a.Devices[0].Hash == b.Devices[0].Hash {
		t.Error("changed device kept its hash")
	}
	if a.Devices[1].Hash != b.Devices[1].Hash {
		t.Error("unchanged device changed its hash")
	}
	if a.Tag("sim1/Wave").Entry != b.Tag("sim1/Wave").Entry {
		t.Error("unchanged path got a new Entry")
	}
	if v := b.Tag("sim1/Wave").Entry.Load(); v.V != 1.5 {
		t.Errorf("value lost across reload: %+v", v)
	}

	// A type change must not leave the old value under the new type.
	cfg = baseConfig()
	cfg.Devices[1].Tags[0].Type = "int32"
	c, err := Compile(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Tag("sim1/Wave").Entry.Load(); v.V != nil || v.Quality != drivers.BadWaitingForInitialData {
		t.Errorf("after type change: %+v", v)
	}
}

func TestCompileDisabledDevice(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	off := false
	cfg.Devices[0].Enabled = &off
	tbl, err := Compile(cfg, NewStore())
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Devices) != 1 || tbl.Devices[0].Name != "sim1" || tbl.Tag("Line1/Press3/Counter") != nil {
		t.Fatalf("disabled device in table: %d devices", len(tbl.Devices))
	}
	cfg.Devices[0].Tags[0].Type = "nope" // still checked
	if _, err := Compile(cfg, NewStore()); err == nil {
		t.Fatal("disabled device's tags not checked")
	}
}

func TestCompileDefaultFolderAndScan(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Devices: []config.Device{{Name: "d", Driver: "sim", Folder: "A/B",
		Tags: []config.Tag{{Name: "x", Address: "counter", Type: "uint32"}}}}}
	tbl, err := Compile(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := tbl.Tag("A/B/x")
	if x == nil || x.Scan != DefaultScan || x.Entry != nil {
		t.Fatalf("%+v", x)
	}
}
