package drivers

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxDuration is the upper bound to pass to Options.Duration when a
// duration has no maximum.
const MaxDuration = time.Duration(math.MaxInt64)

// Options decodes a driver's options map strictly (STYLE habit 7): every
// problem is collected, each naming its key as `option "key": ...`, which is
// how mapping places it at devices[i].options.<key>.
//
// YAML, JSON and ${ENV} expansion hand numbers over as int, float64 or
// string, so each reader accepts the forms a user can produce and nothing
// else. A reader leaves dst alone unless the key is present and valid.
type Options struct {
	m    map[string]any
	errs []error
}

// NewOptions starts decoding m. Keys not in known are errors, reported in
// sorted order, each listing the known keys in the order given.
func NewOptions(m map[string]any, known ...string) *Options {
	o := &Options{m: m}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.Fail(k, "unknown option (known: %s)", strings.Join(known, ", "))
	}
	return o
}

// Has reports whether key is present, valid or not.
func (o *Options) Has(key string) bool {
	_, ok := o.m[key]
	return ok
}

// Fail records a driver-specific problem with key.
func (o *Options) Fail(key, format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf("option %q: %s", key, fmt.Sprintf(format, args...)))
}

// Err joins every problem recorded so far; nil when there is none.
func (o *Options) Err() error { return errors.Join(o.errs...) }

// String reads a string, trimmed of surrounding space. It reports whether
// key was present and valid.
func (o *Options) String(key string, dst *string) bool {
	v, ok := o.m[key]
	if !ok {
		return false
	}
	s, ok := v.(string)
	if !ok {
		o.Fail(key, "want a string, got %s", describe(v))
		return false
	}
	*dst = strings.TrimSpace(s)
	return true
}

// Int reads an integer in lo..hi: any Go integer, a float64 or float32
// with no fraction, or a decimal string.
func (o *Options) Int(key string, dst *int, lo, hi int) bool {
	v, ok := o.m[key]
	if !ok {
		return false
	}
	n, ok := toInt(v)
	if !ok {
		o.Fail(key, "want an integer, got %s", describe(v))
		return false
	}
	if n < int64(lo) || n > int64(hi) {
		o.Fail(key, "%d out of range %d..%d", n, lo, hi)
		return false
	}
	*dst = int(n)
	return true
}

// Bool reads true or false, as a bool or a string strconv.ParseBool takes.
func (o *Options) Bool(key string, dst *bool) bool {
	v, ok := o.m[key]
	if !ok {
		return false
	}
	switch b := v.(type) {
	case bool:
		*dst = b
		return true
	case string:
		if p, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
			*dst = p
			return true
		}
	}
	o.Fail(key, "want true or false, got %s", describe(v))
	return false
}

// Duration reads a duration in lo..hi written as a Go duration string
// ("500ms", "2s") or given as a time.Duration. A bare number is refused:
// nobody can tell whether 5 means seconds or milliseconds.
func (o *Options) Duration(key string, dst *time.Duration, lo, hi time.Duration) bool {
	v, ok := o.m[key]
	if !ok {
		return false
	}
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
			o.Fail(key, "want a duration like 100ms or 2s, got %q", x)
			return false
		}
	default:
		o.Fail(key, "want a duration like 100ms or 2s, got %s", describe(v))
		return false
	}
	switch {
	case d < lo:
		o.Fail(key, "%s is below the minimum %s", d, lo)
		return false
	case d > hi:
		o.Fail(key, "%s is above the maximum %s", d, hi)
		return false
	}
	*dst = d
	return true
}

// describe shows a refused value on one line: mapping reports a driver's
// problems one per line, so a newline inside a value would split one.
func describe(v any) string {
	switch x := v.(type) {
	case nil: // YAML `key:` with nothing after it
		return "an empty value"
	case string:
		return strconv.Quote(x)
	}
	return strings.ReplaceAll(fmt.Sprintf("%T %v", v, v), "\n", `\n`)
}

// two63 is 2^63 as a float: the first float64 above math.MaxInt64.
const two63 = 9223372036854775808.0

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float32:
		return toInt(float64(n))
	case float64:
		if n != math.Trunc(n) || n >= two63 || n < -two63 {
			return 0, false
		}
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}
