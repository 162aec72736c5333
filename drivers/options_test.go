package drivers

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// decodeAll runs every reader over m the way a driver's Open would.
type decoded struct {
	s  string
	n  int
	b  bool
	d  time.Duration
	ok [4]bool
}

var known = []string{"s", "n", "b", "d"}

func decodeAll(m map[string]any) (decoded, error) {
	var r decoded
	o := NewOptions(m, known...)
	r.ok[0] = o.String("s", &r.s)
	r.ok[1] = o.Int("n", &r.n, -5, 100)
	r.ok[2] = o.Bool("b", &r.b)
	r.ok[3] = o.Duration("d", &r.d, time.Millisecond, time.Hour)
	return r, o.Err()
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    map[string]any
		want decoded
		errs []string // every line of Err, in order
	}{
		{"nil", nil, decoded{}, nil},
		{"all", map[string]any{"s": " x ", "n": 7, "b": true, "d": "250ms"},
			decoded{"x", 7, true, 250 * time.Millisecond, [4]bool{true, true, true, true}}, nil},
		{"other forms", map[string]any{"n": "42", "b": "false", "d": 2 * time.Second},
			decoded{"", 42, false, 2 * time.Second, [4]bool{false, true, true, true}}, nil},
		{"whole float", map[string]any{"n": 20.0}, decoded{n: 20, ok: [4]bool{1: true}}, nil},
		{"int kinds", map[string]any{"n": uint8(9)}, decoded{n: 9, ok: [4]bool{1: true}}, nil},
		{"unknown sorted", map[string]any{"zz": 1, "aa": 2}, decoded{}, []string{
			`option "aa": unknown option (known: s, n, b, d)`,
			`option "zz": unknown option (known: s, n, b, d)`}},
		{"string type", map[string]any{"s": 5}, decoded{}, []string{`option "s": want a string, got int 5`}},
		{"int fraction", map[string]any{"n": 1.5}, decoded{}, []string{`option "n": want an integer, got float64 1.5`}},
		{"int text", map[string]any{"n": "x"}, decoded{}, []string{`option "n": want an integer, got "x"`}},
		{"int bool", map[string]any{"n": true}, decoded{}, []string{`option "n": want an integer, got bool true`}},
		{"nil", map[string]any{"s": nil}, decoded{}, []string{`option "s": want a string, got an empty value`}},
		{"int huge", map[string]any{"n": uint64(1 << 63)}, decoded{}, []string{`option "n": want an integer, got uint64 9223372036854775808`}},
		{"int range", map[string]any{"n": 101}, decoded{}, []string{`option "n": 101 out of range -5..100`}},
		{"bool yes", map[string]any{"b": "yes"}, decoded{}, []string{`option "b": want true or false, got "yes"`}},
		{"dur number", map[string]any{"d": 5.0}, decoded{}, []string{`option "d": want a duration like 100ms or 2s, got float64 5`}},
		{"dur text", map[string]any{"d": "soon"}, decoded{}, []string{`option "d": want a duration like 100ms or 2s, got "soon"`}},
		{"dur low", map[string]any{"d": "10us"}, decoded{}, []string{`option "d": 10µs is below the minimum 1ms`}},
		{"dur high", map[string]any{"d": "2h"}, decoded{}, []string{`option "d": 2h0m0s is above the maximum 1h0m0s`}},
		{"every problem", map[string]any{"x": 1, "s": 1, "n": "?", "b": 2, "d": 3}, decoded{}, []string{
			`option "x": unknown option (known: s, n, b, d)`,
			`option "s": want a string, got int 1`,
			`option "n": want an integer, got "?"`,
			`option "b": want true or false, got int 2`,
			`option "d": want a duration like 100ms or 2s, got int 3`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeAll(tt.m)
			if got != tt.want {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
			var lines []string
			if err != nil {
				lines = strings.Split(err.Error(), "\n")
			}
			if strings.Join(lines, "\n") != strings.Join(tt.errs, "\n") {
				t.Errorf("errors\n got %q\nwant %q", lines, tt.errs)
			}
		})
	}
}

func TestOptionsFail(t *testing.T) {
	t.Parallel()
	o := NewOptions(map[string]any{"mode": "push"}, "mode")
	if !o.Has("mode") || o.Has("url") {
		t.Error("Has does not follow the map")
	}
	o.Fail("mode", "%q is not a mode", "push")
	err := o.Err()
	if err == nil || err.Error() != `option "mode": "push" is not a mode` {
		t.Errorf("Err = %v", err)
	}
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) != 1 {
		t.Error("Err is not a joined error of the problems")
	}
}

// FuzzOptions: no input panics, a reader reports success exactly when it
// records no problem, and every problem names its key.
func FuzzOptions(f *testing.F) {
	f.Add("x", int64(3), 1.5, "100ms", "true")
	f.Add(" ", int64(-1<<62), 2e19, "5", "yes")
	f.Add("", int64(0), -0.0, "-1h", "")
	f.Fuzz(func(t *testing.T, s string, i int64, fl float64, ds, bs string) {
		for _, m := range []map[string]any{
			{"s": s, "n": i, "b": bs, "d": ds},
			{"s": fl, "n": fl, "b": s, "d": fl},
			{"n": s, "d": s, s: i},
		} {
			got, err := decodeAll(m)
			n := 0
			if err != nil {
				n = len(strings.Split(err.Error(), "\n"))
				for _, line := range strings.Split(err.Error(), "\n") {
					if !strings.HasPrefix(line, `option "`) {
						t.Fatalf("problem %q does not name its key", line)
					}
				}
			}
			fails := 0
			for k, ok := range got.ok {
				if _, present := m[known[k]]; present && !ok {
					fails++
				}
			}
			for k := range m {
				if k != "s" && k != "n" && k != "b" && k != "d" {
					fails++
				}
			}
			if fails != n {
				t.Fatalf("%v: %d problems for %d failed keys: %v", m, n, fails, err)
			}
		}
	})
}
