package service

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// recorder collects reported states.
type recorder struct {
	mu     sync.Mutex
	states []state
	seen   chan state
}

func newRecorder() *recorder { return &recorder{seen: make(chan state, 16)} }

func (r *recorder) report(s state) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
	r.seen <- s
}

func (r *recorder) got() []state {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]state(nil), r.states...)
}

// waitFor reads reported states until want appears (bounded).
func (r *recorder) waitFor(t *testing.T, want state) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-r.seen:
			if s == want {
				return
			}
		case <-timeout:
			t.Fatalf("state %d never reported; got %v", want, r.got())
		}
	}
}

// blockUntilCancel is a run function that behaves like the gateway.
func blockUntilCancel(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestSupervise(t *testing.T) {
	defer goleak.VerifyNone(t)
	errBoom := errors.New("opcua: listen 0.0.0.0:4840: address in use")
	tests := []struct {
		name    string
		run     func(ctx context.Context) error
		send    []request
		close   bool // close the request channel after send
		wantErr error
		want    []state
		reloads int
	}{
		{
			name: "stop cancels run and is a clean stop",
			run:  blockUntilCancel,
			send: []request{reqStop},
			want: []state{stateStartPending, stateRunning, stateStopPending},
		},
		{
			name: "interrogate reports the current state, a second stop is ignored",
			run:  blockUntilCancel,
			send: []request{reqInterrogate, reqStop, reqStop},
			want: []state{stateStartPending, stateRunning, stateRunning, stateStopPending},
		},
		{
			name:    "param change reloads",
			run:     blockUntilCancel,
			send:    []request{reqParamChange, reqParamChange, reqStop},
			want:    []state{stateStartPending, stateRunning, stateRunning, stateRunning, stateStopPending},
			reloads: 2,
		},
		{
			name:    "run failing on its own ends the service with its error",
			run:     func(context.Context) error { return errBoom },
			wantErr: errBoom,
			want:    []state{stateStartPending, stateRunning},
		},
		{
			name:    "run returning an error after stop keeps the error",
			run:     func(ctx context.Context) error { <-ctx.Done(); return errBoom },
			send:    []request{reqStop},
			wantErr: errBoom,
			want:    []state{stateStartPending, stateRunning, stateStopPending},
		},
		{
			name:  "a closed control channel stops",
			run:   blockUntilCancel,
			close: true,
			want:  []state{stateStartPending, stateRunning, stateStopPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			reqs := make(chan request)
			reloads := 0
			done := make(chan error, 1)
			go func() { done <- supervise(tt.run, reqs, rec.report, func() { reloads++ }) }()
			rec.waitFor(t, stateRunning)
			for _, q := range tt.send {
				select {
				case reqs <- q:
				case err := <-done: // run ended by itself
					done <- err
				}
			}
			if tt.close {
				close(reqs)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("supervise did not return")
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := rec.got(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("states %v, want %v", got, tt.want)
			}
			if reloads != tt.reloads {
				t.Errorf("reloads %d, want %d", reloads, tt.reloads)
			}
		})
	}
}

func TestSeverityAndText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		sev  int
	}{
		{`time=2025-01-01T00:00:00Z level=INFO msg="opc ua server listening"` + "\n", sevInfo},
		{`time=2025-01-01T00:00:00Z level=WARN msg="device down" device=press3`, sevWarning},
		{`time=2025-01-01T00:00:00Z level=ERROR msg="reload rejected"`, sevError},
		{`{"time":"2025-01-01T00:00:00Z","level":"ERROR","msg":"x"}`, sevError},
		{`{"time":"2025-01-01T00:00:00Z","level":"WARN","msg":"x"}`, sevWarning},
		{`{"level":"DEBUG","msg":"x"}`, sevInfo},
		{``, sevInfo},
	}
	for _, tt := range tests {
		if got := severity([]byte(tt.line)); got != tt.sev {
			t.Errorf("severity(%q) = %d, want %d", tt.line, got, tt.sev)
		}
	}
	if got := eventText([]byte("a line\r\n")); got != "a line" {
		t.Errorf("eventText trims: %q", got)
	}
	long := make([]byte, maxEventLen+100)
	for i := range long {
		long[i] = 'x'
	}
	if got := eventText(long); len(got) != maxEventLen+3 {
		t.Errorf("eventText of %d bytes: %d bytes, want %d", len(long), len(got), maxEventLen+3)
	}
	if got := eventText([]byte("bad\xff")); got != "bad\uFFFD" {
		t.Errorf("eventText invalid UTF-8: %q", got)
	}
}

func FuzzEventText(f *testing.F) {
	f.Add([]byte("level=ERROR msg=x\n"))
	f.Add([]byte{0xff, 0xfe, '\r', '\n'})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = severity(b)
		if s := eventText(b); len(s) > maxEventLen*3+3 {
			t.Fatalf("eventText: %d bytes", len(s))
		}
	})
}
