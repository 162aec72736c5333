package sim

import (
	"math"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// options are the device options (the `options:` map of a sim device).
type options struct {
	seed            int64
	failEvery       int64
	latency         time.Duration
	disconnectAfter int64
	nan             string
}

var optionKeys = []string{"seed", "fail_every", "latency", "disconnect_after", "nan"}

// decodeOptions decodes m strictly: an unknown key or a value of the wrong
// kind is an error naming the key. Every problem is reported.
func decodeOptions(m map[string]any) (options, error) {
	o := options{seed: 1, nan: "bad"}
	d := drivers.NewOptions(m, optionKeys...)
	seed := int(o.seed)
	if d.Int("seed", &seed, math.MinInt, math.MaxInt) {
		o.seed = int64(seed)
	}
	o.failEvery = count(d, "fail_every")
	o.disconnectAfter = count(d, "disconnect_after")
	d.Duration("latency", &o.latency, 0, drivers.MaxDuration)
	var nan string
	if d.String("nan", &nan) {
		switch nan = strings.ToLower(nan); nan {
		case "bad", "zero", "keep":
			o.nan = nan
		default:
			d.Fail("nan", "want bad, zero or keep, got %q", nan)
		}
	}
	return o, d.Err()
}

// count reads a non-negative count where 0 turns the fault off.
func count(d *drivers.Options, key string) int64 {
	n := 0
	if d.Int(key, &n, math.MinInt, math.MaxInt) && n < 0 {
		d.Fail(key, "%d must be >= 0 (0 = off)", n)
		return 0
	}
	return int64(n)
}
