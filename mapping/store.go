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
		e = &Entry{Path: path, q: drivers.BadWaitingForInitialData}
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
//
// The value lives inline under a small lock rather than behind an
// atomic.Pointer to a fresh Value per Set: at 100k tags/s that pointer
// design allocated 100k Values a second (and held one 96-byte object per tag
// besides the Entry), which is what made the collector run. The critical
// sections are an 88-byte copy, the writer is the device's poll goroutine
// and the readers are a few subscription loops, so the lock is almost never
// contended; a seqlock would avoid it but cannot copy the pointers of a
// Value without a data race.
//
// The value is stored field by field behind a plain mutex. (A 4-byte spin
// lock would save 16 bytes per entry, 1.6 MB at 100k tags, but a spinning
// reader on a 2-core industrial PC is not worth that.) Watch and Unwatch
// swap the watcher list with compare-and-swap.
type Entry struct {
	Path string

	mu       sync.Mutex // guards the value fields below
	q        drivers.Quality
	v        any
	src, srv time.Time
	err      string
	watchers atomic.Pointer[watchNode] // immutable list, copy-on-write
}

func (e *Entry) lock()   { e.mu.Lock() }
func (e *Entry) unlock() { e.mu.Unlock() }

// Load returns the latest value.
func (e *Entry) Load() Value {
	e.lock()
	v := Value{V: e.v, Quality: e.q, Source: e.src, Server: e.srv, Err: e.err}
	e.unlock()
	return v
}

// Set stores v as the latest value and marks e dirty in every watcher.
// It never blocks on a consumer and does not allocate.
func (e *Entry) Set(v Value) {
	e.lock()
	e.v, e.q, e.src, e.srv, e.err = v.V, v.Quality, v.Source, v.Server, v.Err
	e.unlock()
	for n := e.watchers.Load(); n != nil; n = n.next {
		n.s.w.mark(n.s)
	}
}

// watchNode is one cell of an Entry's immutable watcher list. A list of
// nodes costs 16 bytes a watcher; the []*watch it replaced cost 32 (the
// array and the slice header the atomic pointer needs) for the common
// single watcher.
type watchNode struct {
	s    *watch
	next *watchNode
}

// watch is the link between one Entry and one Watcher. Its marked flag
// says the entry sits in the watcher's dirty list, so a Set of an entry
// that is already dirty costs one atomic load, not a lock and a map lookup.
type watch struct {
	w      *Watcher
	e      *Entry
	marked atomic.Bool // in w.dirty, not drained yet
	gone   atomic.Bool // unwatched: Drain drops it
}

// Watch adds w to the watchers of e. Watching twice is a no-op.
func (e *Entry) Watch(w *Watcher) {
	var s *watch
	for {
		head := e.watchers.Load()
		for n := head; n != nil; n = n.next {
			if n.s.w == w {
				return
			}
		}
		if s == nil {
			s = &watch{w: w, e: e}
		}
		if e.watchers.CompareAndSwap(head, &watchNode{s: s, next: head}) {
			return
		}
	}
}

// Unwatch removes w from the watchers of e. A change of e that w has not
// drained yet is dropped with it.
func (e *Entry) Unwatch(w *Watcher) {
	// Copy the nodes before w's and share the tail after it.
	var before []*watch
retry:
	before = before[:0]
	old := e.watchers.Load()
	for n := old; n != nil; n = n.next {
		if n.s.w != w {
			before = append(before, n.s)
			continue
		}
		head := n.next
		for i := len(before) - 1; i >= 0; i-- {
			head = &watchNode{s: before[i], next: head}
		}
		if !e.watchers.CompareAndSwap(old, head) {
			goto retry
		}
		n.s.gone.Store(true)
		return
	}
}

// Watcher collects the entries that changed since the last Drain. A slow
// consumer loses intermediate values (it sees the latest value at Drain
// time), never the latest one, and never blocks the producer.
type Watcher struct {
	// C receives a token (capacity 1) when something became dirty.
	C chan struct{}

	mu    sync.Mutex
	dirty []*watch
}

// NewWatcher returns a watcher with an empty dirty set.
func NewWatcher() *Watcher {
	return &Watcher{C: make(chan struct{}, 1)}
}

// mark puts s in the dirty list unless it is there already. The flag is
// set before the append and cleared by Drain under w.mu before the
// consumer loads values, so a Set that finds it set is seen by the Drain
// that clears it: the latest value is never lost.
func (w *Watcher) mark(s *watch) {
	if !s.marked.CompareAndSwap(false, true) {
		return // dirty already: a token was sent when it became dirty
	}
	w.mu.Lock()
	w.dirty = append(w.dirty, s)
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
	for _, s := range w.dirty {
		s.marked.Store(false)
		if !s.gone.Load() {
			buf = append(buf, s.e)
		}
	}
	clear(w.dirty)
	w.dirty = w.dirty[:0]
	w.mu.Unlock()
	return buf
}
