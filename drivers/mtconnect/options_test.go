package mtconnect

import (
	"strings"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts map[string]any
		err  string // substring; "" = valid
		chk  func(o options) bool
	}{
		{"defaults", map[string]any{"url": "http://10.0.0.5:5000"}, "", func(o options) bool {
			return o.Mode == ModeStream && o.Interval == 100*time.Millisecond && o.Heartbeat == 10*time.Second &&
				o.Timeout == 5*time.Second && o.Count == 1000 && !o.Auto && o.Device == ""
		}},
		{"all", map[string]any{"url": "https://agent/mtc/", "device": "Mazak1", "mode": "POLL", "interval": "250ms",
			"heartbeat": "2s", "timeout": time.Second, "count": "500", "auto": "true"}, "", func(o options) bool {
			return o.Mode == ModePoll && o.Interval == 250*time.Millisecond && o.Heartbeat == 2*time.Second &&
				o.Timeout == time.Second && o.Count == 500 && o.Auto && o.Device == "Mazak1" && o.URL.Path == "/mtc/"
		}},
		{"count float", map[string]any{"url": "http://a", "count": 20.0}, "", func(o options) bool { return o.Count == 20 }},
		{"no url", map[string]any{}, `option "url": required`, nil},
		{"bad scheme", map[string]any{"url": "ftp://a"}, "scheme must be http or https", nil},
		{"no host", map[string]any{"url": "http://"}, "no host", nil},
		{"query", map[string]any{"url": "http://a/?x=1"}, "no query", nil},
		{"unknown key", map[string]any{"url": "http://a", "adress": "x"}, `option "adress": unknown option`, nil},
		{"bad mode", map[string]any{"url": "http://a", "mode": "push"}, "not a mode", nil},
		{"bad interval", map[string]any{"url": "http://a", "interval": "fast"}, `want a duration like 100ms or 2s, got "fast"`, nil},
		{"number interval", map[string]any{"url": "http://a", "interval": 100}, "want a duration", nil},
		{"tiny timeout", map[string]any{"url": "http://a", "timeout": "10us"}, "below the minimum", nil},
		{"count zero", map[string]any{"url": "http://a", "count": 0}, "out of range", nil},
		{"count fraction", map[string]any{"url": "http://a", "count": 1.5}, "want an integer, got float64 1.5", nil},
		{"auto yes", map[string]any{"url": "http://a", "auto": "yes"}, `want true or false, got "yes"`, nil},
		{"url int", map[string]any{"url": 5}, "want a string", nil},
		{"url empty", map[string]any{"url": nil}, `option "url": want a string, got an empty value`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeOptions(tc.opts)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if !tc.chk(o) {
					t.Errorf("decoded %+v", o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
	// Every problem is reported, not only the first.
	_, err := decodeOptions(map[string]any{"mode": "x", "count": -1})
	for _, s := range []string{`option "mode"`, `option "count"`, `option "url"`} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not name %s", err, s)
		}
	}
}

func TestOpenNoIO(t *testing.T) {
	t.Parallel()
	// A URL nobody serves: Open must succeed without touching the network.
	dev, err := Driver{}.Open(t.Context(), "m1", map[string]any{"url": "http://192.0.2.1:5000", "device": "M"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (Driver{}).Open(t.Context(), "m2", map[string]any{"url": "ftp://x"}); err == nil || !strings.Contains(err.Error(), "mtconnect m2") {
		t.Errorf("error %v, want it to name the device", err)
	}
}
