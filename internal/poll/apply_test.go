package poll

import (
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func TestApplyDiff(t *testing.T) {
	t.Parallel()
	fa, fb, fc, fd := newFake(t), newFake(t), newFake(t), newFake(t)
	store := mapping.NewStore()
	keep := device("keep", fa.name, 2*time.Millisecond, tagSpec{name: "a", addr: "a"})
	change := device("change", fb.name, 2*time.Millisecond, tagSpec{name: "b", addr: "b"})
	gone := device("gone", fd.name, 2*time.Millisecond, tagSpec{name: "d", addr: "d"})
	tbl := compile(t, store, keep, change, gone)
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)
	waitFor(t, "all up", func() bool {
		return statusOf(s, "keep").State == StateUp && statusOf(s, "change").State == StateUp && statusOf(s, "gone").State == StateUp
	})
	keepRunner := s.runner("keep")

	changed := device("change", fb.name, 3*time.Millisecond, tagSpec{name: "b", addr: "b"})
	added := device("added", fc.name, 2*time.Millisecond, tagSpec{name: "c", addr: "c"})
	next := compile(t, store, device("keep", fa.name, 2*time.Millisecond, tagSpec{name: "a", addr: "a"}), changed, added)
	if next.Tag("keep/a") == tbl.Tag("keep/a") || next.Tag("keep/a").Entry != tbl.Tag("keep/a").Entry {
		t.Fatal("test setup: a reload compiles new Tags over the same Entries")
	}
	if err := s.Apply(next); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	before := fa.readsOf("a")
	waitFor(t, "unchanged device keeps polling", func() bool { return fa.readsOf("a") >= before+10 })
	waitFor(t, "changed device reopened", func() bool { return fb.get(func(f *fake) int { return f.opens }) == 2 })
	waitFor(t, "added device polls", func() bool { return value(next, "added/c").Quality == drivers.Good })
	waitFor(t, "removed device closed", func() bool {
		return fd.get(func(f *fake) int { return f.closes }) == fd.get(func(f *fake) int { return f.opens })
	})
	if n := fa.get(func(f *fake) int { return f.opens }); n != 1 {
		t.Errorf("unchanged device opened %d times, want 1 (same goroutine and connection)", n)
	}
	if s.runner("keep") != keepRunner {
		t.Error("unchanged device got a new goroutine")
	}
	if fb.get(func(f *fake) int { return f.opens - f.closes }) != 1 {
		t.Error("changed device: old instance not closed before or after the new one opened")
	}
	var names []string
	for _, st := range s.Status() {
		names = append(names, st.Name)
	}
	if len(names) != 3 || names[0] != "added" || names[1] != "change" || names[2] != "keep" {
		t.Errorf("Status lists %v, want [added change keep]", names)
	}
	// The unchanged device publishes through the new table's tags.
	waitFor(t, "retargeted", func() bool {
		st := statusOf(s, "keep")
		return st.State == StateUp && keepRunner.next.Load() == nil
	})
}

func TestApplyInvalidChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	tbl := compile(t, store, device("d1", f.name, 2*time.Millisecond, tagSpec{name: "a", addr: "a"}))
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)
	waitFor(t, "up", func() bool { return statusOf(s, "d1").State == StateUp })

	bad := compile(t, mapping.NewStore(), config.Device{Name: "x", Driver: "polltest-no-such-driver", Scan: time.Second})
	dup := &mapping.Table{Devices: []*mapping.Device{tbl.Devices[0], tbl.Devices[0]}}
	for name, tb := range map[string]*mapping.Table{"unknown driver": bad, "duplicate": dup, "nil": nil} {
		if err := s.Apply(tb); err == nil {
			t.Errorf("%s: Apply succeeded", name)
		}
	}
	if st := s.Status(); len(st) != 1 || st[0].Name != "d1" || st[0].State != StateUp {
		t.Errorf("status after invalid applies: %+v", st)
	}
}

func TestApplyBeforeRun(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	s := New(nil, Options{Logger: quietLogger()})
	if st := s.Status(); len(st) != 0 {
		t.Fatalf("empty scheduler status: %+v", st)
	}
	tbl := compile(t, store, device("d1", f.name, 2*time.Millisecond, tagSpec{name: "a", addr: "a"}))
	if err := s.Apply(tbl); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); len(st) != 1 || st[0].State != StateStopped {
		t.Errorf("status before Run: %+v", st)
	}
	start(t, s)
	waitFor(t, "Good", func() bool { return value(tbl, "d1/a").Quality == drivers.Good })
}
