package mapping

import (
	"fmt"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

// The packed tag table must look up every tag by path, and nothing else.
func TestTableLookupAfterPacking(t *testing.T) {
	t.Parallel()
	cfg := memConfig(3, 50)
	cfg.Devices[1].Tags[7].Options = map[string]any{} // empty: dropped
	cfg.Devices[2].Tags[3].Options = map[string]any{"k": 1}
	cfg.Devices[0].Tags[0].Unit = "degC"
	cfg.Devices[0].Tags[1].Unit = string([]byte("degC"))
	tbl, err := Compile(cfg, NewStore())
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tbl.Tags {
		if got := tbl.Tag(tag.Path); got != tag {
			t.Fatalf("Tag(%q) = %v", tag.Path, got)
		}
		if tag.Status {
			continue
		}
		if tag.Path != tag.Device+"/"+tag.Name || tag.NodeID != tag.Path || tag.Addr.Tag != tag.Path {
			t.Fatalf("tag %q: name %q node %q addr.tag %q", tag.Path, tag.Name, tag.NodeID, tag.Addr.Tag)
		}
	}
	for _, p := range []string{"", "plc00", "plc00/T99999", "zzz", "_Devices/plc00"} {
		if got := tbl.Tag(p); got != nil {
			t.Errorf("Tag(%q) = %v, want nil", p, got.Path)
		}
	}
	if o := tbl.Tag("plc01/T00007").Addr.Options; o != nil {
		t.Errorf("empty options kept: %v", o)
	}
	if o := tbl.Tag("plc02/T00003").Addr.Options; o["k"] != 1 {
		t.Errorf("options lost: %v", o)
	}
	if u := tbl.Tag("plc00/T00001").Unit; u != "degC" {
		t.Errorf("unit %q", u)
	}
	var nilTbl *Table
	if nilTbl.Tag("x") != nil || (&Table{}).Tag("x") != nil {
		t.Error("empty tables must find nothing")
	}
}

// Unwatch in any position leaves the other watchers notified.
func TestUnwatchPositions(t *testing.T) {
	t.Parallel()
	for drop := range 3 {
		t.Run(fmt.Sprint(drop), func(t *testing.T) {
			t.Parallel()
			e := NewStore().Entry("x")
			ws := []*Watcher{NewWatcher(), NewWatcher(), NewWatcher()}
			for _, w := range ws {
				e.Watch(w)
				e.Watch(w) // no-op
			}
			e.Unwatch(ws[drop])
			e.Unwatch(ws[drop]) // no-op
			e.Set(Value{V: 1.0, Quality: drivers.Good})
			for i, w := range ws {
				want := 1
				if i == drop {
					want = 0
				}
				if got := len(w.Drain(nil)); got != want {
					t.Errorf("watcher %d drained %d, want %d", i, got, want)
				}
			}
		})
	}
}
