package mtconnect

import (
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestDiscover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir   string
		count int
		want  []drivers.PointInfo // checked by Name; Description not compared
	}{
		{"v1.3", 17, []drivers.PointInfo{
			{Name: "avail", Addr: "id:avail", Type: drivers.String},
			{Name: "Axes[base]/Linear[X]/Xact", Addr: "id:Xact", Type: drivers.Float64, Unit: "mm"},
			{Name: "Axes[base]/Linear[X]/Xload", Addr: "id:Xload", Type: drivers.Float64, Unit: "%"},
			{Name: "Axes[base]/Linear[X]/Position", Addr: "id:Xtravel", Type: drivers.String},
			{Name: "Axes[base]/Linear[Z]/AxisFeedrate", Addr: "id:Zfeed", Type: drivers.Float64, Unit: "mm/s"},
			{Name: "Axes[base]/Rotary[C]/Spindle_Speed", Addr: "id:Sspeed", Type: drivers.Float64, Unit: "rpm"},
			{Name: "Axes[base]/Rotary[C]/Spindle_Temp", Addr: "id:Stemp", Type: drivers.Float64, Unit: "degC"},
			{Name: "Controller/Path/PartCount", Addr: "id:pc", Type: drivers.Int32},
			{Name: "Controller/Path/line", Addr: "id:ln", Type: drivers.Int32},
			{Name: "Controller/Path/execution", Addr: "id:exec", Type: drivers.String},
			{Name: "Controller/logic_cond", Addr: "id:logic", Type: drivers.String},
		}},
		{"v2.2", 20, []drivers.PointInfo{
			{Name: "Availability", Addr: "id:avail", Type: drivers.String},
			{Name: "Axes/Linear[X]/Position[Actual]", Addr: "id:Xact", Type: drivers.Float64, Unit: "mm"},
			{Name: "Axes/Linear[X]/Position[Commanded]", Addr: "id:Xcmd", Type: drivers.Float64, Unit: "mm"},
			{Name: "Axes/Linear[Z]/Position[Actual]", Addr: "id:Zact", Type: drivers.Float64, Unit: "mm"},
			{Name: "Axes/Rotary[C]/Spindle_Speed", Addr: "id:Sspeed", Type: drivers.Float64, Unit: "rpm"},
			{Name: "Axes/Rotary[C]/System", Addr: "id:Scond", Type: drivers.String},
			{Name: "Controller/Path/PartCount[All]", Addr: "id:pc", Type: drivers.Int32},
			{Name: "Controller/Path/LineNumber[Absolute]", Addr: "id:ln", Type: drivers.Int32},
			{Name: "Controller/Path/Execution", Addr: "id:exec", Type: drivers.String},
			{Name: "Controller/Path/PathPosition[Actual]", Addr: "id:ppos", Type: drivers.String, Unit: "mm"},
			{Name: "Controller/Path/Variable", Addr: "id:vars", Type: drivers.String},
			{Name: "Systems/Electric/Wattage", Addr: "id:power", Type: drivers.Float64, Unit: "W"},
			{Name: "Systems/Electric/Amperage[Actual]", Addr: "id:amps", Type: drivers.Float64, Unit: "A"},
		}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			a := newAgent(t, readFile(t, tc.dir+"/probe.xml"), readFile(t, tc.dir+"/current.xml"))
			d := openDev(t, a, map[string]any{"auto": true})
			// Discover before any Read reads /probe itself.
			pts, err := d.Discover(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != tc.count {
				t.Errorf("%d points, want %d: %+v", len(pts), tc.count, pts)
			}
			byName := map[string]drivers.PointInfo{}
			for _, p := range pts {
				if _, dup := byName[p.Name]; dup {
					t.Errorf("duplicate point name %q", p.Name)
				}
				byName[p.Name] = p
			}
			for _, w := range tc.want {
				g, ok := byName[w.Name]
				if !ok {
					t.Errorf("no point %q", w.Name)
					continue
				}
				if g.Addr != w.Addr || g.Type != w.Type || g.Unit != w.Unit || g.Writable || g.Description == "" {
					t.Errorf("%s: got %+v, want %+v", w.Name, g, w)
				}
			}
			// Every discovered point reads with its discovered type.
			addrs := make([]drivers.Address, len(pts))
			for i, p := range pts {
				addrs[i] = drivers.Address{Tag: p.Name, Addr: p.Addr, Type: p.Type}
			}
			out, err := read(t, d, addrs...)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range out {
				if s.Quality == drivers.BadTypeMismatch || s.Quality == drivers.BadConfigurationError {
					t.Errorf("%s (%s): %v %v", pts[i].Name, pts[i].Addr, s.Quality, s.Err)
				}
			}
		})
	}
}

func TestPointNamesCollide(t *testing.T) {
	t.Parallel()
	p := &probe{Items: []dataItem{
		{ID: "t1", Category: "SAMPLE", Type: "TEMPERATURE", Path: []string{"Motor"}},
		{ID: "t2", Category: "SAMPLE", Type: "TEMPERATURE", Path: []string{"Motor"}},
		{ID: "a/b", Name: "x/y", Category: "EVENT", Type: "PROGRAM"},
	}}
	got := map[string]bool{}
	for _, pt := range points(p) {
		got[pt.Name] = true
	}
	for _, n := range []string{"Motor/Temperature#t1", "Motor/Temperature#t2", "x_y"} {
		if !got[n] {
			t.Errorf("no point %q in %v", n, got)
		}
	}
}
