package mtconnect

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

// Every agent error code on /probe gives a clear error and the right quality.
func TestAgentErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code    string
		status  int
		quality drivers.Quality
	}{
		{CodeInvalidXPath, 400, drivers.BadConfigurationError},
		{CodeNoDevice, 404, drivers.BadConfigurationError},
		{CodeTooMany, 400, drivers.BadConfigurationError},
		{CodeQueryError, 400, drivers.BadConfigurationError},
		{CodeUnsupported, 400, drivers.BadConfigurationError},
		{CodeInvalidRequest, 400, drivers.BadConfigurationError},
		{CodeOutOfRange, 400, drivers.BadCommunicationError},
		{CodeInternalError, 500, drivers.BadDeviceFailure},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			a := newAgent(t, errorXML(tc.code, "it went wrong"), "")
			a.set(func(a *fakeAgent) { a.status["probe"] = tc.status })
			d := openDev(t, a, map[string]any{"device": "Mill9"})
			out, err := read(t, d, ad("id:Xact", drivers.Float64), ad("id:exec", drivers.String))
			var ae *AgentError
			var qe *drivers.QualityError
			if !errors.As(err, &ae) || ae.Code != tc.code || ae.Message != "it went wrong" {
				t.Fatalf("Read error %v, want the agent's %s", err, tc.code)
			}
			if !errors.As(err, &qe) || qe.Quality != tc.quality || errors.Is(err, drivers.ErrBadConn) {
				t.Errorf("Read error %v, want a QualityError %v (not ErrBadConn)", err, tc.quality)
			}
			if !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), "/Mill9/probe") {
				t.Errorf("error %q does not say what failed", err)
			}
			for i, s := range out {
				if s.Quality != tc.quality || s.Err == nil {
					t.Errorf("slot %d: %v %v, want %v", i, s.Quality, s.Err, tc.quality)
				}
			}
			if st := d.Stats(); st.LastErrorCode != tc.code || st.AgentErrors == 0 || st.Connected {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TOO_MANY on /sample halves count and carries on, polling or streaming.
func TestTooManyHalvesCount(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModePoll, ModeStream} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cur := readFile(t, "v1.3/current.xml")
			a := newAgent(t, readFile(t, "v1.3/probe.xml"), cur)
			doc := streamsXML(instanceOf(cur), 1, 121, xact(120, "5.5"))
			answer := func(w http.ResponseWriter, r *http.Request, from uint64) bool {
				if r.URL.Query().Get("count") != "250" {
					writeXML(w, 400, errorXML(CodeTooMany, "count must be less than 300"))
					return false
				}
				return true
			}
			a.set(func(a *fakeAgent) {
				a.sample = func(w http.ResponseWriter, r *http.Request, from uint64) {
					if answer(w, r, from) {
						writeXML(w, 200, doc)
					}
				}
				a.stream = func(w http.ResponseWriter, r *http.Request, from uint64) {
					if answer(w, r, from) {
						_ = startStream(w, "multipart/mixed").part(doc)
						<-r.Context().Done()
					}
				}
			})
			d := openDev(t, a, map[string]any{"mode": mode, "count": 1000})
			waitFor(t, d, "the smaller count", func(s Stats, out []drivers.Sample, err error) bool {
				return err == nil && out[0].Value == 5.5 && s.Mode == mode
			}, ad("id:Xact", drivers.Float64))
		})
	}
}

// Malformed documents never panic; they are connection-class errors.
func TestMalformed(t *testing.T) {
	t.Parallel()
	probe := readFile(t, "v1.3/probe.xml")
	for _, tc := range []struct{ name, probe, current string }{
		{"probe truncated", probe[:len(probe)/2], ""},
		{"probe not XML", "Internal Server Error", ""},
		{"probe wrong root", "<html><body>hi</body></html>", ""},
		{"current truncated", probe, readFile(t, "v1.3/current.xml")[:300]},
		{"current bad sequence", probe, strings.Replace(readFile(t, "v1.3/current.xml"), `nextSequence="120"`, `nextSequence="x"`, 1)},
		{"current empty", probe, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAgent(t, tc.probe, tc.current)
			d := openDev(t, a, nil)
			_, err := read(t, d, ad("id:Xact", drivers.Float64))
			if !errors.Is(err, drivers.ErrBadConn) {
				t.Fatalf("Read error %v, want ErrBadConn", err)
			}
			if st := d.Stats(); st.Malformed == 0 {
				t.Errorf("stats %+v: malformed not counted", st)
			}
		})
	}
}

// An unreachable agent: Read returns ErrBadConn.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := newAgent(t, "", "")
	url := srv.srv.URL
	srv.srv.Close()
	dev, err := Driver{}.Open(t.Context(), "m1", map[string]any{"url": url, "timeout": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	out := make([]drivers.Sample, 1)
	err = dev.Read(t.Context(), []drivers.Address{ad("id:Xact", drivers.Float64)}, out)
	if !errors.Is(err, drivers.ErrBadConn) || !strings.Contains(err.Error(), "m1") {
		t.Fatalf("Read error %v, want ErrBadConn naming the device", err)
	}
}

// An agent that answers the streaming request with a plain document (it does
// not stream) makes the driver poll.
func TestStreamFallback(t *testing.T) {
	t.Parallel()
	cur := readFile(t, "v1.3/current.xml")
	a := newAgent(t, readFile(t, "v1.3/probe.xml"), cur)
	a.set(func(a *fakeAgent) {
		a.stream = func(w http.ResponseWriter, r *http.Request, from uint64) {
			writeXML(w, 200, emptySample(cur, from)) // ignores interval
		}
		a.sample = func(w http.ResponseWriter, r *http.Request, from uint64) {
			if r.URL.Query().Get("interval") != "" {
				t.Errorf("polled with interval")
			}
			writeXML(w, 200, streamsXML(instanceOf(cur), 1, 121, xact(120, "8.5")))
		}
	})
	d := openDev(t, a, nil)
	waitFor(t, d, "polling after the fallback", func(s Stats, out []drivers.Sample, err error) bool {
		return err == nil && out[0].Value == 8.5 && s.Mode == ModePoll && s.Fallbacks == 1
	}, ad("id:Xact", drivers.Float64))
}

// A stream whose heartbeats stop is dropped and re-opened.
func TestHeartbeatLoss(t *testing.T) {
	t.Parallel()
	cur := readFile(t, "v1.3/current.xml")
	a := newAgent(t, readFile(t, "v1.3/probe.xml"), cur)
	streams := 0
	a.set(func(a *fakeAgent) {
		a.stream = func(w http.ResponseWriter, r *http.Request, from uint64) {
			a.mu.Lock()
			streams++
			n := streams
			a.mu.Unlock()
			mw := startStream(w, "multipart/x-mixed-replace")
			if n == 1 {
				_ = mw.part(emptySample(cur, from)) // one heartbeat, then silence
			} else {
				_ = mw.part(streamsXML(instanceOf(cur), 1, 121, xact(120, "3.25")))
			}
			<-r.Context().Done()
		}
	})
	d := openDev(t, a, map[string]any{"heartbeat": "50ms"})
	waitFor(t, d, "the reconnect", func(s Stats, out []drivers.Sample, err error) bool {
		return err == nil && out[0].Value == 3.25 && s.Heartbeats >= 1 && s.Reconnects >= 1
	}, ad("id:Xact", drivers.Float64))
}
