package mapping

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// Value is the latest state of a tag as clients see it.
type Value struct {
	V       any             // engineering value in the Go type of Tag.Type; nil before the first good read
	Quality drivers.Quality //
	Source  time.Time       // when the device answered (or the device's own timestamp)
	Server  time.Time       // when the gateway published it
	Err     string          // diagnostics when Quality is not Good (PDU address, exception...)
}

// Store holds one Entry per tag path. It is safe for concurrent use.
type Store struct {
	mu      sync.RWMutex
	entries map[string]*Entry
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{entries: map[string]*Entry{}} }

// Entry returns the entry for path, creating it (BadWaitingForInitialData)
// if needed. The same path always yields the same *Entry until Remove, so
// pollers and OPC UA nodes can hold it across reloads.
func (s *Store) Entry(path string) *Entry {
	s.mu.RLock()
	e := s.entries[path]
	s.mu.RUnlock()
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e = s.entries[path]; e == nil {
		e = &Entry{Path: path}
		e.v.Store(&Value{Quality: drivers.BadWaitingForInitialData})
		s.entries[path] = e
	}
	return e
}

// Lookup returns the entry for path, or nil.
func (s *Store) Lookup(path string) *Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.entries[path]
}

// Remove drops the entry for path. Holders of the *Entry keep a dead copy;
// watchers are not notified any more.
func (s *Store) Remove(path string) {
	s.mu.Lock()
	e := s.entries[path]
	delete(s.entries, path)
	s.mu.Unlock()
	if e != nil {
		e.watchers.Store(nil)
	}
}

// Len is the number of entries.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Entry is the latest value of one tag and the watchers interested in it.
type Entry struct {
	Path string

	v        atomic.Pointer[Value]
	wmu      sync.Mutex                 // serialises Watch/Unwatch
	watchers atomic.Pointer[[]*Watcher] // copy-on-write
}

// Load returns the latest value.
func (e *Entry) Load() Value { return *e.v.Load() }

// Set stores v as the latest value and marks e dirty in every watcher.
// It never blocks on a consumer.
func (e *Entry) Set(v Value) {
	e.v.Store(&v)
	if ws := e.watchers.Load(); ws != nil {
		for _, w := range *ws {
			w.mark(e)
		}
	}
}

// Watch adds w to the watchers of e. Watching twice is a no-op.
func (e *Entry) Watch(w *Watcher) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	var old []*Watcher
	if p := e.watchers.Load(); p != nil {
		old = *p
	}
	for _, x := range old {
		if x == w {
			return
		}
	}
	n := make([]*Watcher, len(old), len(old)+1)
	copy(n, old)
	n = append(n, w)
	e.watchers.Store(&n)
}

// Unwatch removes w from the watchers of e.
func (e *Entry) Unwatch(w *Watcher) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	p := e.watchers.Load()
	if p == nil {
		return
	}
	n := make([]*Watcher, 0, len(*p))
	for _, x := range *p {
		if x != w {
			n = append(n, x)
		}
	}
	e.watchers.Store(&n)
}

// Watcher collects the entries that changed since the last Drain. A slow
// consumer loses intermediate values (it sees the latest value at Drain
// time), never the latest one, and never blocks the producer.
type Watcher struct {
	// C receives a token (capacity 1) when something became dirty.
	C chan struct{}

	mu     sync.Mutex
	dirty  []*Entry
	marked map[*Entry]struct{}
}

// NewWatcher returns a watcher with an empty dirty set.
func NewWatcher() *Watcher {
	return &Watcher{C: make(chan struct{}, 1), marked: map[*Entry]struct{}{}}
}

func (w *Watcher) mark(e *Entry) {
	w.mu.Lock()
	if _, ok := w.marked[e]; !ok {
		w.marked[e] = struct{}{}
		w.dirty = append(w.dirty, e)
	}
	w.mu.Unlock()
	select {
	case w.C <- struct{}{}:
	default:
	}
}

// Drain appends the entries that changed since the last Drain to buf (each
// once, in order of first change) and clears the dirty set.
func (w *Watcher) Drain(buf []*Entry) []*Entry {
	w.mu.Lock()
	buf = append(buf, w.dirty...)
	for _, e := range w.dirty {
		delete(w.marked, e)
	}
	clear(w.dirty)
	w.dirty = w.dirty[:0]
	w.mu.Unlock()
	return buf
}
