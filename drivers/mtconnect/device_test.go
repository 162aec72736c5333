package mtconnect

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

type want struct {
	addr    drivers.Address
	quality drivers.Quality
	value   any
	time    string // agent timestamp, "" = not checked
}

func checkSamples(t *testing.T, ws []want, out []drivers.Sample) {
	t.Helper()
	for i, w := range ws {
		s := out[i]
		if s.Quality != w.quality || s.Value != w.value {
			t.Errorf("%s: got %v %T(%v) err %v, want %v %T(%v)", w.addr.Addr, s.Quality, s.Value, s.Value, s.Err, w.quality, w.value, w.value)
		}
		if w.time != "" && !s.Time.Equal(mustTime(t, w.time)) {
			t.Errorf("%s: time %v, want the agent's %s", w.addr.Addr, s.Time, w.time)
		}
		if !s.Quality.IsGood() && s.Err == nil {
			t.Errorf("%s: quality %v without Err", w.addr.Addr, s.Quality)
		}
	}
}

func addrsOf(ws []want) []drivers.Address {
	a := make([]drivers.Address, len(ws))
	for i, w := range ws {
		a[i] = w.addr
	}
	return a
}

// The 1.3 lathe, polled: first the /current baseline, then the /sample
// document once the agent releases it.
func TestPollV13(t *testing.T) {
	t.Parallel()
	a := newAgent(t, readFile(t, "v1.3/probe.xml"), readFile(t, "v1.3/current.xml"))
	sample := readFile(t, "v1.3/sample.xml")
	release := make(chan struct{})
	a.set(func(a *fakeAgent) {
		a.sample = func(w http.ResponseWriter, r *http.Request, from uint64) {
			select {
			case <-release:
			default:
				writeXML(w, 200, emptySample(a.current, from))
				return
			}
			if from == 120 {
				writeXML(w, 200, sample)
				return
			}
			writeXML(w, 200, emptySample(a.current, from))
		}
	})
	d := openDev(t, a, map[string]any{"mode": "poll", "device": "Lathe1"})

	baseline := []want{
		{ad("id:Xact", drivers.Float64), drivers.Good, 12.5, "2026-11-26T10:00:00.5Z"},
		{ad("name:Spindle_Speed", drivers.Float64), drivers.Good, 1500.0, "2026-11-26T10:00:00.6Z"},
		{ad("name:PartCount", drivers.Int32), drivers.Good, int32(41), ""},
		{ad("id:exec", drivers.String), drivers.Good, "ACTIVE", "2026-11-26T10:00:00Z"},
		{ad("id:mode", drivers.String), drivers.Good, "AUTOMATIC", ""},
		{ad("id:pgm", drivers.String), drivers.Good, "O1234", ""},
		{ad("id:ln", drivers.Int32), drivers.Good, int32(230), ""},
		{ad("id:Zfeed", drivers.Float64), drivers.BadNoCommunication, nil, "2026-11-26T09:59:00Z"},
		{ad("id:logic", drivers.String), drivers.Uncertain, "Warning: Low lubricant", "2026-11-26T10:00:00.7Z"},
		{ad("id:Xtravel", drivers.String), drivers.Good, "Normal", ""},
		{ad("id:nope", drivers.Float64), drivers.BadConfigurationError, nil, ""},
		{ad("name:nope", drivers.Float64), drivers.BadConfigurationError, nil, ""},
		{ad("bogus", drivers.Float64), drivers.BadConfigurationError, nil, ""},
		{ad("id:exec", drivers.Float64), drivers.BadTypeMismatch, nil, ""},
		{ad("id:Stemp", drivers.Invalid), drivers.Good, 41.5, ""}, // no type: the DataItem's own
	}
	out, err := read(t, d, addrsOf(baseline)...)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkSamples(t, baseline, out)

	close(release)
	after := []want{
		{ad("id:Xact", drivers.Float64), drivers.Good, 13.5, "2026-11-26T10:00:01.3Z"}, // the later of two in one document
		{ad("name:Spindle_Speed", drivers.Float32), drivers.Good, float32(1800), "2026-11-26T10:00:01.2Z"},
		{ad("name:PartCount", drivers.Int32), drivers.Good, int32(42), ""},
		{ad("id:logic", drivers.String), drivers.Good, "Normal", ""},
		{ad("id:Xtravel", drivers.String), drivers.BadDeviceFailure, "Fault: Overtravel X+", "2026-11-26T10:00:01.4Z"},
	}
	out = waitFor(t, d, "the sample document", func(s Stats, out []drivers.Sample, err error) bool {
		return err == nil && s.NextSequence == 126
	}, addrsOf(after)...)
	checkSamples(t, after, out)
	st := d.Stats()
	if st.Mode != ModePoll || st.Gaps != 0 || st.Reprobes != 0 || st.InstanceID != "1700000001" || st.Version != "1.3.0.18" || st.BufferSize != 131072 {
		t.Errorf("stats %+v", st)
	}
	a.mu.Lock()
	for _, p := range a.paths {
		if !strings.HasPrefix(p, "/Lathe1/") {
			t.Errorf("request path %q, want it under /Lathe1/", p)
		}
	}
	a.mu.Unlock()
}

// The 2.2 lathe, streamed: heartbeat parts, then the sample document.
func TestStreamV22(t *testing.T) {
	t.Parallel()
	for _, ctype := range []string{"multipart/x-mixed-replace", "multipart/mixed"} {
		t.Run(ctype, func(t *testing.T) {
			t.Parallel()
			cur := readFile(t, "v2.2/current.xml")
			a := newAgent(t, readFile(t, "v2.2/probe.xml"), cur)
			sample := readFile(t, "v2.2/sample.xml")
			release := make(chan struct{})
			a.set(func(a *fakeAgent) {
				a.stream = func(w http.ResponseWriter, r *http.Request, from uint64) {
					mw := startStream(w, ctype)
					hb := streamsXMLv2(from)
					if mw.part(hb) != nil {
						return
					}
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
					if from == 60 && mw.part(sample) != nil {
						return
					}
					tk := time.NewTicker(20 * time.Millisecond)
					defer tk.Stop()
					for range 500 { // heartbeats, bounded
						select {
						case <-r.Context().Done():
							return
						case <-tk.C:
						}
						if mw.part(streamsXMLv2(64)) != nil {
							return
						}
					}
				}
			})
			d := openDev(t, a, map[string]any{"heartbeat": "200ms"})
			baseline := []want{
				{ad("id:Xact", drivers.Float64), drivers.Good, 100.125, "2026-11-26T11:00:00.5Z"},
				{ad("name:Spindle_Speed", drivers.Float64), drivers.Good, 2400.5, "2026-11-26T11:00:00.8Z"},
				{ad("id:Stemp", drivers.Float64), drivers.BadNoCommunication, nil, ""},
				{ad("id:Scond", drivers.String), drivers.BadDeviceFailure, "Fault: Spindle overload", ""},
				{ad("id:logic", drivers.String), drivers.BadNoCommunication, "Unavailable", ""},
				{ad("id:pc", drivers.Int32), drivers.Good, int32(7), ""},
				{ad("id:ln", drivers.Int32), drivers.Good, int32(1040), ""},
				{ad("id:vars", drivers.String), drivers.Good, "V1=10 V2=abc", ""},
				{ad("id:ppos", drivers.String), drivers.Good, "100.125 0 -5", ""},
				{ad("id:asset_chg", drivers.String), drivers.BadNoCommunication, nil, ""},
				{ad("id:agent_avail", drivers.String), drivers.BadConfigurationError, nil, ""}, // the Agent device is not ours
			}
			out, err := read(t, d, addrsOf(baseline)...)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			checkSamples(t, baseline, out)
			close(release)
			after := []want{
				{ad("name:Spindle_Speed", drivers.Float64), drivers.Good, 2500.0, "2026-11-26T11:00:01.1Z"},
				{ad("id:Stemp", drivers.Float64), drivers.Good, 38.5, ""},
				{ad("id:Scond", drivers.String), drivers.Uncertain, "Warning: Spindle warm", ""},
				{ad("id:exec", drivers.String), drivers.Good, "READY", ""},
			}
			out = waitFor(t, d, "the streamed sample and heartbeats", func(s Stats, out []drivers.Sample, err error) bool {
				return err == nil && s.NextSequence == 64 && s.Documents >= 4
			}, addrsOf(after)...)
			checkSamples(t, after, out)
			if st := d.Stats(); st.Mode != ModeStream || st.Fallbacks != 0 || st.Device != "Lathe2" || st.Version != "2.2.0.17" {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func streamsXMLv2(next uint64) string {
	return `<MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:2.2"><Header instanceId="1800000002" version="2.2.0.17" bufferSize="8192" firstSequence="1" lastSequence="` +
		itoa(next-1) + `" nextSequence="` + itoa(next) + `"/><Streams><DeviceStream name="Lathe2" uuid="lathe-002"/></Streams></MTConnectStreams>`
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// An agent restart (new instanceId) makes the driver re-read /probe and /current.
func TestAgentRestart(t *testing.T) {
	t.Parallel()
	probe, cur := readFile(t, "v1.3/probe.xml"), readFile(t, "v1.3/current.xml")
	a := newAgent(t, probe, cur)
	d := openDev(t, a, map[string]any{"mode": "poll"})
	if _, err := read(t, d, ad("id:Xact", drivers.Float64)); err != nil {
		t.Fatal(err)
	}
	// Restart: new instance, sequences start over, Xact moved.
	newCur := strings.ReplaceAll(cur, "1700000001", "1700000999")
	newCur = strings.Replace(newCur, ">12.5<", ">99.5<", 1)
	a.set(func(a *fakeAgent) {
		a.probe = strings.ReplaceAll(probe, "1700000001", "1700000999")
		a.current = newCur
	})
	out := waitFor(t, d, "the re-probe", func(s Stats, out []drivers.Sample, err error) bool {
		return err == nil && s.Reprobes >= 1 && out[0].Value == 99.5
	}, ad("id:Xact", drivers.Float64))
	if st := d.Stats(); st.InstanceID != "1700000999" || a.hit("probe") < 2 {
		t.Errorf("after restart: stats %+v, probes %d, value %v", st, a.hit("probe"), out[0].Value)
	}
}

// A buffer overrun (OUT_OF_RANGE, or a firstSequence past our next) re-reads
// /current and counts the gap.
func TestGap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(instance string, from uint64) string
	}{
		{"OUT_OF_RANGE", func(string, uint64) string {
			return errorXML(CodeOutOfRange, "'from' must be greater than or equal to 300.")
		}},
		{"firstSequence past next", func(inst string, from uint64) string {
			return streamsXML(inst, 300, 310, xact(305, "1.0"))
		}},
	} {
		for _, mode := range []string{ModePoll, ModeStream} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				cur := readFile(t, "v1.3/current.xml")
				a := newAgent(t, readFile(t, "v1.3/probe.xml"), cur)
				overrun := true
				serve := func(w http.ResponseWriter, r *http.Request, from uint64) (string, bool) {
					a.mu.Lock()
					defer a.mu.Unlock()
					if overrun && from == 120 {
						overrun = false
						// the buffer moved on: the next /current is at 400
						a.current = strings.Replace(strings.Replace(cur, `nextSequence="120"`, `nextSequence="400"`, 1), ">12.5<", ">77.25<", 1)
						return tc.answer(instanceOf(cur), from), true
					}
					return emptySample(cur, from), false
				}
				a.set(func(a *fakeAgent) {
					a.sample = func(w http.ResponseWriter, r *http.Request, from uint64) {
						doc, bad := serve(w, r, from)
						status := 200
						if bad && strings.Contains(doc, "MTConnectError") {
							status = 400
						}
						writeXML(w, status, doc)
					}
					a.stream = func(w http.ResponseWriter, r *http.Request, from uint64) {
						doc, bad := serve(w, r, from)
						if bad && strings.Contains(doc, "MTConnectError") {
							writeXML(w, 400, doc)
							return
						}
						mw := startStream(w, "multipart/x-mixed-replace")
						_ = mw.part(doc)
						<-r.Context().Done()
					}
				})
				d := openDev(t, a, map[string]any{"mode": mode})
				out := waitFor(t, d, "the gap recovery", func(s Stats, out []drivers.Sample, err error) bool {
					return err == nil && s.Gaps == 1 && s.NextSequence == 400 && out[0].Value == 77.25
				}, ad("id:Xact", drivers.Float64))
				_ = out
				if n := a.hit("current"); n != 2 {
					t.Errorf("/current read %d times, want 2 (baseline + after the gap)", n)
				}
				if st := d.Stats(); st.Reprobes != 0 || st.Mode != mode {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a := newAgent(t, readFile(t, "v1.3/probe.xml"), readFile(t, "v1.3/current.xml"))
	d := openDev(t, a, map[string]any{"mode": "poll"})
	tests := []struct {
		addr    string
		typ     drivers.Type
		before  bool // valid before the probe is known
		afterOK bool
	}{
		{"id:Xact", drivers.Float64, true, true},
		{"name:Spindle_Speed", drivers.Float64, true, true},
		{"id:nope", drivers.Float64, true, false},
		{"name:", drivers.Float64, false, false},
		{"Xact", drivers.Float64, false, false},
		{"tag:Xact", drivers.Float64, false, false},
		{"id:logic", drivers.Int32, true, false},
		{"id:Xact", drivers.BCD16, false, false},
	}
	for _, tc := range tests {
		if err := d.Check(ad(tc.addr, tc.typ)); (err == nil) != tc.before {
			t.Errorf("before probe: Check(%q, %s) = %v", tc.addr, tc.typ, err)
		}
	}
	if _, err := read(t, d, ad("id:Xact", drivers.Float64)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		if err := d.Check(ad(tc.addr, tc.typ)); (err == nil) != tc.afterOK {
			t.Errorf("after probe: Check(%q, %s) = %v", tc.addr, tc.typ, err)
		}
	}
}
