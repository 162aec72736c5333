package sim

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// options are the device options (the `options:` map of a sim device).
type options struct {
	seed            int64
	failEvery       int64
	latency         time.Duration
	disconnectAfter int64
	nan             string
}

const optionList = "seed, fail_every, latency, disconnect_after, nan"

// decodeOptions decodes m strictly: an unknown key or a value of the wrong
// kind is an error naming the key. Every problem is reported, in key order.
func decodeOptions(dev string, m map[string]any) (options, error) {
	o := options{seed: 1, nan: "bad"}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "seed":
			o.seed, err = toInt(v)
		case "fail_every":
			o.failEvery, err = toCount(v)
		case "disconnect_after":
			o.disconnectAfter, err = toCount(v)
		case "latency":
			o.latency, err = toDuration(v)
		case "nan":
			s, ok := v.(string)
			s = strings.ToLower(strings.TrimSpace(s))
			if !ok || (s != "bad" && s != "zero" && s != "keep") {
				err = fmt.Errorf("got %v, want bad, zero or keep", v)
			}
			o.nan = s
		default:
			errs = append(errs, fmt.Errorf("sim %s: unknown option %q (want %s)", dev, k, optionList))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sim %s: option %s: %w", dev, k, err))
		}
	}
	return o, errors.Join(errs...)
}

// toInt accepts any Go integer, a whole float (YAML and JSON decoders may
// produce float64) or a decimal string (environment overrides are strings).
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		return uintToInt(uint64(x))
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return uintToInt(x)
	case float32:
		return floatToInt(float64(x))
	case float64:
		return floatToInt(x)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("got %T %v, want an integer", v, v)
}

func uintToInt(u uint64) (int64, error) {
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("%d is too large", u)
	}
	return int64(u), nil
}

func floatToInt(f float64) (int64, error) {
	if f != math.Trunc(f) || f >= two63 || f < -two63 {
		return 0, fmt.Errorf("%v is not an integer", f)
	}
	return int64(f), nil
}

func toCount(v any) (int64, error) {
	n, err := toInt(v)
	if err == nil && n < 0 {
		err = fmt.Errorf("%d must be >= 0 (0 = off)", n)
	}
	return n, err
}

func toDuration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 100ms, 2s)", x)
		}
	default:
		// A bare number has no unit; refuse it rather than guess one.
		return 0, fmt.Errorf("got %T %v, want a duration string like 100ms", v, v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s must be >= 0", d)
	}
	return d, nil
}
