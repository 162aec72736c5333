package main

import (
	"fmt"
	"strings"
	"time"
)

// genDevice is one Modbus device of a generated config.
type genDevice struct {
	Name     string
	Address  string // host:port of its peer
	Tags     int    // float32 tags from hr:0, contiguous
	Scan     time.Duration
	Timeout  time.Duration
	WriteTag bool // add a readwrite float32 tag "W" at hr:writeBase
}

// genConfig is what the harness needs from a gateway config.
type genConfig struct {
	AppURI        string
	MetricsListen string // "" = no metrics endpoint
	User          string // a write user ("" = none)
	PasswordHash  string
	BackoffMin    time.Duration // 0 = the gateway's default
	BackoffMax    time.Duration
	Devices       []genDevice
}

// maxRegisters is the planner limit the generated devices use (the
// driver's default).
const maxRegisters = 120

// tagName names tag i of a device; NodeIds are ns=<app>;s=<device>/<tagName>.
func tagName(i int) string { return fmt.Sprintf("T%05d", i) }

// render writes the config as YAML (DESIGN.md section 5). Tags are written
// one per line in flow style to keep 100k-tag files small.
func (g genConfig) render() string {
	var b strings.Builder
	b.Grow(64 * (len(g.Devices) + totalTags(g.Devices)))
	b.WriteString("gateway: { name: bench, log: { level: warn, format: text } }\n")
	b.WriteString("opcua:\n  listen: 127.0.0.1:0\n")
	fmt.Fprintf(&b, "  application_uri: %s\n", g.AppURI)
	b.WriteString("  security: [none]\n  anonymous: read\n")
	if g.User != "" {
		fmt.Fprintf(&b, "  users: [ { name: %s, password_hash: %q, role: write } ]\n", g.User, g.PasswordHash)
	}
	if g.MetricsListen != "" {
		fmt.Fprintf(&b, "metrics: { listen: %s }\n", g.MetricsListen)
	}
	b.WriteString("devices:\n")
	for _, d := range g.Devices {
		fmt.Fprintf(&b, "  - name: %s\n    driver: modbus\n    scan: %s\n", d.Name, d.Scan)
		if g.BackoffMin > 0 {
			fmt.Fprintf(&b, "    backoff_min: %s\n", g.BackoffMin)
		}
		if g.BackoffMax > 0 {
			fmt.Fprintf(&b, "    backoff_max: %s\n", g.BackoffMax)
		}
		timeout := d.Timeout
		if timeout <= 0 {
			timeout = time.Second
		}
		fmt.Fprintf(&b, "    options: { transport: tcp, address: %q, unit_id: 1, timeout: %s, byte_order: ABCD, max_registers: %d, max_gap: 16",
			d.Address, timeout, maxRegisters)
		if g.BackoffMin > 0 {
			fmt.Fprintf(&b, ", reconnect_min: %s", g.BackoffMin)
		}
		if g.BackoffMax > 0 {
			fmt.Fprintf(&b, ", reconnect_max: %s", g.BackoffMax)
		}
		b.WriteString(" }\n    tags:\n")
		for i := range d.Tags {
			fmt.Fprintf(&b, "      - { name: %s, address: \"hr:%d\", type: float32 }\n", tagName(i), 2*i)
		}
		if d.WriteTag {
			fmt.Fprintf(&b, "      - { name: W, address: \"hr:%d\", type: float32, access: readwrite }\n", writeBase)
		}
	}
	return b.String()
}

func totalTags(ds []genDevice) int {
	n := 0
	for _, d := range ds {
		n += d.Tags
	}
	return n
}

// minRequests is the least number of read requests that cover n contiguous
// float32 values (2 registers each) with at most maxRegs registers per
// request, never splitting a value: an independent count, not the
// planner's own, so that "requests per scan / minimum" checks the planner.
// For a contiguous block greedy packing is optimal.
func minRequests(n, maxRegs int) int {
	if n <= 0 {
		return 0
	}
	per := maxRegs / 2
	if per < 1 {
		per = 1
	}
	return (n + per - 1) / per
}

// spread splits total tags over n devices as evenly as possible.
func spread(total, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = total / n
		if i < total%n {
			out[i]++
		}
	}
	return out
}
