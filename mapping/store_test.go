package mapping

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

func TestStoreEntry(t *testing.T) {
	t.Parallel()
	s := NewStore()
	if s.Lookup("a") != nil {
		t.Fatal("Lookup created an entry")
	}
	e := s.Entry("a")
	if e != s.Entry("a") || e != s.Lookup("a") || s.Len() != 1 || e.Path != "a" {
		t.Fatal("Entry is not stable")
	}
	if v := e.Load(); v.Quality != drivers.BadWaitingForInitialData || v.V != nil {
		t.Fatalf("fresh entry %+v", v)
	}
	w := NewWatcher()
	e.Watch(w)
	s.Remove("a")
	if s.Lookup("a") != nil || s.Len() != 0 {
		t.Fatal("Remove kept the entry")
	}
	e.Set(Value{V: 1.0})
	if got := w.Drain(nil); len(got) != 0 {
		t.Errorf("removed entry notified %d", len(got))
	}
	if s.Entry("a") == e {
		t.Error("re-created entry is the removed one")
	}
}

func TestWatcherLatestValue(t *testing.T) {
	t.Parallel()
	s := NewStore()
	a, b := s.Entry("a"), s.Entry("b")
	w := NewWatcher()
	a.Watch(w)
	a.Watch(w) // twice is a no-op
	b.Watch(w)
	// Nobody drains: Set must never block however many changes pile up.
	for i := range 10000 {
		a.Set(Value{V: i, Quality: drivers.Good})
	}
	b.Set(Value{V: "x", Quality: drivers.Good})
	a.Set(Value{V: -1, Quality: drivers.Good})
	select {
	case <-w.C:
	default:
		t.Fatal("no wake-up token")
	}
	got := w.Drain(nil)
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("drained %v, want [a b] once each in order of first change", got)
	}
	// intermediate values are lost, the latest never
	if v := a.Load().V; v != -1 {
		t.Fatalf("latest a = %v", v)
	}
	if got := w.Drain(nil); len(got) != 0 {
		t.Fatalf("second drain %d", len(got))
	}
	a.Unwatch(w)
	a.Unwatch(w)
	a.Set(Value{V: 5})
	if got := w.Drain(nil); len(got) != 0 {
		t.Fatal("unwatched entry notified")
	}
	b.Set(Value{V: "y"})
	if got := w.Drain(make([]*Entry, 0, 4)); len(got) != 1 || got[0] != b {
		t.Fatal("still-watched entry not notified")
	}
}

// A watcher that never drains must not slow or block other watchers or the
// producer, and every watcher that drains at the end sees the final values.
func TestStoreSlowWatcher(t *testing.T) {
	t.Parallel()
	s := NewStore()
	const n = 100
	es := make([]*Entry, n)
	stuck, live := NewWatcher(), NewWatcher()
	for i := range es {
		es[i] = s.Entry(fmt.Sprint(i))
		es[i].Watch(stuck)
		es[i].Watch(live)
	}
	done := make(chan struct{})
	seen := make([]int, n)
	go func() {
		defer close(done)
		var buf []*Entry
		for {
			<-live.C
			buf = live.Drain(buf[:0])
			for _, e := range buf {
				i := 0
				fmt.Sscan(e.Path, &i)
				seen[i] = e.Load().V.(int)
			}
			if seen[n-1] == 999 {
				return
			}
		}
	}()
	for round := range 1000 {
		for _, e := range es {
			e.Set(Value{V: round, Quality: drivers.Good})
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("live watcher never saw the final value")
	}
	got := stuck.Drain(nil)
	if len(got) != n {
		t.Fatalf("stuck watcher has %d dirty entries, want %d", len(got), n)
	}
	for _, e := range got {
		if e.Load().V != 999 {
			t.Fatalf("%s = %v after drain", e.Path, e.Load().V)
		}
	}
}

// Concurrent Set/Watch/Unwatch/Drain/Remove: run under -race. After the
// producers stop, one more Set of every entry must reach a watcher that is
// still subscribed.
func TestStoreConcurrent(t *testing.T) {
	t.Parallel()
	s := NewStore()
	paths := make([]string, 50)
	for i := range paths {
		paths[i] = fmt.Sprint("p", i)
	}
	var wg sync.WaitGroup
	for g := range 4 { // producers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				s.Entry(paths[(i+g)%len(paths)]).Set(Value{V: i, Quality: drivers.Good})
			}
		}()
	}
	for range 3 { // subscribers that come and go
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := NewWatcher()
			var buf []*Entry
			for i := 0; i < 300; i++ {
				e := s.Entry(paths[i%len(paths)])
				e.Watch(w)
				buf = w.Drain(buf[:0])
				for _, d := range buf {
					_ = d.Load()
				}
				if i%3 == 0 {
					e.Unwatch(w)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a remover
		defer wg.Done()
		for i := 0; i < 100; i++ {
			s.Remove(paths[i%len(paths)])
			_ = s.Len()
		}
	}()
	final := NewWatcher()
	for _, p := range paths {
		s.Entry(p).Watch(final)
	}
	wg.Wait()
	final.Drain(nil)
	for _, p := range paths {
		e := s.Entry(p)
		e.Watch(final)
		e.Set(Value{V: "end"})
	}
	got := final.Drain(nil)
	if len(got) != len(paths) {
		t.Fatalf("final drain %d, want %d", len(got), len(paths))
	}
	for _, e := range got {
		if e.Load().V != "end" {
			t.Fatalf("%s = %v", e.Path, e.Load().V)
		}
	}
}

// Unwatching and watching again while a change is pending must not make
// the entry show up twice in one Drain; a change pending at Unwatch time is
// dropped with the watch.
func TestStoreRewatch(t *testing.T) {
	t.Parallel()
	e := NewStore().Entry("a")
	w := NewWatcher()
	e.Watch(w)
	e.Set(Value{V: 1})
	e.Unwatch(w)
	if got := w.Drain(nil); len(got) != 0 {
		t.Fatalf("drain after unwatch: %d entries, want 0", len(got))
	}
	e.Set(Value{V: 2})
	e.Watch(w)
	e.Unwatch(w)
	e.Watch(w)
	e.Set(Value{V: 3})
	e.Set(Value{V: 4})
	got := w.Drain(nil)
	if len(got) != 1 || got[0] != e {
		t.Fatalf("drain after re-watch: %d entries, want a once", len(got))
	}
	if v := got[0].Load().V; v != 4 {
		t.Fatalf("latest = %v, want 4", v)
	}
	select {
	case <-w.C:
	default:
		t.Fatal("no token for the change")
	}
}
