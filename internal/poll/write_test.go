package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func TestWriteJumpsAheadOfPollsAndReadsBack(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	store := mapping.NewStore()
	tbl := compile(t, store, device("d1", f.name, time.Millisecond,
		tagSpec{name: "sp", addr: "sp", rw: true}, tagSpec{name: "pv", addr: "pv"}))
	m := newRecMetrics()
	s := New(tbl, Options{Logger: quietLogger(), Metrics: m})
	start(t, s)
	waitFor(t, "Good", func() bool { return value(tbl, "d1/sp").Quality == drivers.Good })

	// Hold the device inside a poll, queue a write, then let the poll end:
	// the next device call must be the write, although polls are overdue.
	gate := make(chan struct{})
	f.set(func(f *fake) { f.block = gate })
	select { // drop a stale signal, then wait for a Read that is blocked
	case <-f.inRead:
	default:
	}
	<-f.inRead
	r := s.runner("d1")
	errc := make(chan error, 1)
	go func() { errc <- s.Write(context.Background(), tbl.Tag("d1/sp"), 12.5) }()
	waitFor(t, "write queued", func() bool { return len(r.writes) == 1 })
	f.set(func(f *fake) { f.block = nil })
	close(gate)
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
	// Read-after-write: the store holds the device's value when Write returns.
	if v := value(tbl, "d1/sp"); v.V != 12.5 || v.Quality != drivers.Good {
		t.Errorf("after write: %+v, want 12.5 Good", v)
	}
	ops := f.opsCopy()
	i := len(ops) - 1
	for i >= 0 && ops[i] != "w:sp" {
		i--
	}
	if i < 1 || i+1 >= len(ops) || ops[i+1] != "r:sp" || !strings.Contains(ops[i-1], ",") {
		t.Errorf("ops around the write: %v; want the blocked poll, then w:sp, then the read-back r:sp", ops[max(0, i-2):min(len(ops), i+3)])
	}
	if m.get(func(m *recMetrics) int { return m.writes[drivers.Good] }) != 1 {
		t.Error("WriteDone(Good) not reported")
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	f, ro, down := newFake(t), newFake(t), newFake(t)
	store := mapping.NewStore()
	dd := device("down", down.name, time.Millisecond, tagSpec{name: "a", addr: "a", rw: true})
	dd.BackoffMin, dd.BackoffMax = time.Hour, time.Hour
	down.set(func(f *fake) { f.failConn = true })
	nw := device("nowriter", ro.name, time.Millisecond, tagSpec{name: "a", addr: "a", rw: true})
	nw.Options["writer"] = false
	d1 := device("d1", f.name, time.Millisecond,
		tagSpec{name: "rw", addr: "rw", rw: true}, tagSpec{name: "ro", addr: "ro"})
	d1.WriteTimeout = 50 * time.Millisecond
	tbl := compile(t, store, d1, nw, dd)
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)
	waitFor(t, "devices polled", func() bool {
		return statusOf(s, "d1").State == StateUp && statusOf(s, "nowriter").State == StateUp &&
			statusOf(s, "down").State == StateDown
	})

	other := compile(t, mapping.NewStore(), device("ghost", f.name, time.Second, tagSpec{name: "a", addr: "a", rw: true}))
	cases := []struct {
		name  string
		tag   *mapping.Tag
		v     any
		setup func(f *fake)
		want  drivers.Quality
	}{
		{"read-only tag", tbl.Tag("d1/ro"), 1.0, nil, drivers.BadNotWritable},
		{"status tag", tbl.Tag("_Devices/d1/State"), "x", nil, drivers.BadNotWritable},
		{"wrong type", tbl.Tag("d1/rw"), "text", nil, drivers.BadTypeMismatch},
		{"device without Writer", tbl.Tag("nowriter/a"), 1.0, nil, drivers.BadNotWritable},
		{"device down", tbl.Tag("down/a"), 1.0, nil, drivers.BadCommunicationError},
		{"device not in table", other.Tag("ghost/a"), 1.0, nil, drivers.BadOutOfService},
		{"driver quality passes through", tbl.Tag("d1/rw"), 1.0, func(f *fake) {
			f.writeErr = &drivers.QualityError{Quality: drivers.BadDeviceFailure, Err: errors.New("exception 4")}
		}, drivers.BadDeviceFailure},
		{"plain driver error", tbl.Tag("d1/rw"), 1.0, func(f *fake) { f.writeErr = errors.New("boom") }, drivers.BadCommunicationError},
		{"write_timeout", tbl.Tag("d1/rw"), 1.0, func(f *fake) { f.hangWrite = true }, drivers.BadTimeout},
	}
	for _, c := range cases { // sequential: they share device d1
		f.set(func(f *fake) { f.writeErr, f.hangWrite = nil, false })
		if c.setup != nil {
			f.set(c.setup)
		}
		err := s.Write(context.Background(), c.tag, c.v)
		var qe *drivers.QualityError
		if !errors.As(err, &qe) || qe.Quality != c.want {
			t.Errorf("%s: Write = %v, want a QualityError %v", c.name, err, c.want)
		}
	}
	f.set(func(f *fake) { f.writeErr, f.hangWrite = nil, false })
	r := s.runner("d1")
	waitFor(t, "the timed-out write to end", func() bool {
		return len(r.writes) == 0 && f.get(func(f *fake) int { return boolInt(f.busy) }) == 0
	})
	if err := s.Write(context.Background(), tbl.Tag("d1/rw"), 3.0); err != nil {
		t.Errorf("write after the failures: %v", err)
	}

	// A cancelled context is a timeout for the client.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if q := quality(s.Write(ctx, tbl.Tag("d1/rw"), 1.0)); q != drivers.BadTimeout {
		t.Errorf("cancelled ctx: quality %v, want BadTimeout", q)
	}
}

func TestWriteOnStoppedScheduler(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	tbl := compile(t, mapping.NewStore(), device("d1", f.name, time.Second, tagSpec{name: "a", addr: "a", rw: true}))
	s := New(tbl, Options{Logger: quietLogger()})
	if q := quality(s.Write(context.Background(), tbl.Tag("d1/a"), 1.0)); q != drivers.BadOutOfService {
		t.Errorf("before Run: quality %v, want BadOutOfService", q)
	}
	stop := start(t, s)
	waitFor(t, "up", func() bool { return statusOf(s, "d1").State == StateUp })
	stop()
	if q := quality(s.Write(context.Background(), tbl.Tag("d1/a"), 1.0)); q != drivers.BadOutOfService {
		t.Errorf("after Run: quality %v, want BadOutOfService", q)
	}
}
