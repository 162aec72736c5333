package mtconnect

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Modes of following the agent.
const (
	ModeStream = "stream"
	ModePoll   = "poll"
)

// options are the device options (`options:` of an mtconnect device).
type options struct {
	URL       *url.URL
	Device    string
	Mode      string
	Interval  time.Duration
	Heartbeat time.Duration
	Timeout   time.Duration
	Count     int
	Auto      bool
}

var optionKeys = []string{"auto", "count", "device", "heartbeat", "interval", "mode", "timeout", "url"}

// decodeOptions decodes opts strictly: every problem is reported, an unknown
// key is an error.
func decodeOptions(opts map[string]any) (options, error) {
	o := options{Mode: ModeStream, Interval: 100 * time.Millisecond, Heartbeat: 10 * time.Second,
		Timeout: 5 * time.Second, Count: 1000}
	var errs []error
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := opts[k]
		var err error
		switch strings.ToLower(k) {
		case "url":
			o.URL, err = decodeURL(v)
		case "device":
			o.Device, err = decodeString(v)
		case "mode":
			var s string
			if s, err = decodeString(v); err == nil {
				o.Mode = strings.ToLower(s)
				if o.Mode != ModeStream && o.Mode != ModePoll {
					err = fmt.Errorf("%q is not a mode (want stream or poll)", s)
				}
			}
		case "interval":
			o.Interval, err = decodeDuration(v, time.Millisecond)
		case "heartbeat":
			o.Heartbeat, err = decodeDuration(v, time.Millisecond)
		case "timeout":
			o.Timeout, err = decodeDuration(v, time.Millisecond)
		case "count":
			o.Count, err = decodeInt(v, 1, 1<<24)
		case "auto":
			o.Auto, err = decodeBool(v)
		default:
			err = fmt.Errorf("unknown option (known: %s)", strings.Join(optionKeys, ", "))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("options.%s: %w", k, err))
		}
	}
	if o.URL == nil && opts["url"] == nil {
		errs = append(errs, errors.New("options.url: required (the agent's base URL, e.g. http://10.0.0.5:5000)"))
	}
	return o, errors.Join(errs...)
}

func decodeURL(v any) (*url.URL, error) {
	s, err := decodeString(v)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: the base URL takes no query or fragment", s)
	}
	return u, nil
}

func decodeString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

func decodeDuration(v any, min time.Duration) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 100ms, 10s)", x)
		}
	default:
		return 0, fmt.Errorf("want a duration like 100ms, got %T %v", v, v)
	}
	if d < min {
		return 0, fmt.Errorf("%s is below the minimum %s", d, min)
	}
	if d > 24*time.Hour {
		return 0, fmt.Errorf("%s is above the maximum 24h", d)
	}
	return d, nil
}

func decodeInt(v any, lo, hi int) (int, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case int32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range %d..%d", x, lo, hi)
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		n = int64(x)
	case string:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64); err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
	default:
		return 0, fmt.Errorf("want an integer, got %T", v)
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, fmt.Errorf("%d is out of range %d..%d", n, lo, hi)
	}
	return int(n), nil
}

func decodeBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, fmt.Errorf("%q is not a bool (true or false)", x)
		}
		return b, nil
	}
	return false, fmt.Errorf("want true or false, got %T", v)
}
