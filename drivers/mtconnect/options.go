package mtconnect

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
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
	d := drivers.NewOptions(opts, optionKeys...)
	var s string
	if d.String("url", &s) {
		var err error
		if o.URL, err = parseURL(s); err != nil {
			d.Fail("url", "%v", err)
		}
	} else if !d.Has("url") {
		d.Fail("url", "required (the agent's base URL, e.g. http://10.0.0.5:5000)")
	}
	d.String("device", &o.Device)
	if d.String("mode", &s) {
		o.Mode = strings.ToLower(s)
		if o.Mode != ModeStream && o.Mode != ModePoll {
			d.Fail("mode", "%q is not a mode (want stream or poll)", s)
		}
	}
	const maxWait = 24 * time.Hour
	d.Duration("interval", &o.Interval, time.Millisecond, maxWait)
	d.Duration("heartbeat", &o.Heartbeat, time.Millisecond, maxWait)
	d.Duration("timeout", &o.Timeout, time.Millisecond, maxWait)
	d.Int("count", &o.Count, 1, 1<<24)
	d.Bool("auto", &o.Auto)
	return o, d.Err()
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
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
