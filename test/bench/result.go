package main

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// result is one scenario's row. NaN means "not measured" and prints n/a.
type result struct {
	Scenario string
	Setup    string

	RSSMB      float64
	CPU        float64 // cores
	ScansPerS  float64
	TagsPerS   float64
	ReqPerScan float64
	MinPerScan float64
	PlanRatio  float64 // requests / the minimum, over the window
	PlanWorst  float64 // worst device
	NotifPerS  float64
	E2EP50     float64 // ms
	E2EP99     float64
	Goroutines float64

	Key    string // the scenario's own key figure, formatted
	Target string // issue targets, next to the value
	Neuron string // NeuronEX 3.2.1's published figure, where there is one
	Notes  []string
	Failed bool
}

func newResult(name, setup string) *result {
	r := &result{Scenario: name, Setup: setup}
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Float64 {
			f.SetFloat(math.NaN())
		}
	}
	return r
}

func (r *result) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

// medianOf merges repeats of one scenario: the median of each number, the
// text of the median-RSS run, and every note.
func medianOf(rs []*result) *result {
	if len(rs) == 1 {
		return rs[0]
	}
	out := *rs[len(rs)/2]
	out.Notes = nil
	ov := reflect.ValueOf(&out).Elem()
	for i := range ov.NumField() {
		if ov.Field(i).Kind() != reflect.Float64 {
			continue
		}
		var xs []float64
		for _, r := range rs {
			if x := reflect.ValueOf(r).Elem().Field(i).Float(); !math.IsNaN(x) {
				xs = append(xs, x)
			}
		}
		ov.Field(i).SetFloat(median(xs))
	}
	for _, r := range rs {
		out.Notes = append(out.Notes, r.Notes...)
		out.Failed = out.Failed || r.Failed
	}
	out.Setup += fmt.Sprintf(", median of %d", len(rs))
	return &out
}

// header and cells: the table printed to stdout and written to the docs.
var header = []string{"scenario", "setup", "RSS MB", "CPU cores", "scans/s", "tags/s", "req/scan (min)",
	"notif/s", "e2e p50 / p99 ms", "key result", "target", "NeuronEX 3.2.1"}

func (r *result) cells() []string {
	plan := "n/a"
	if !math.IsNaN(r.ReqPerScan) {
		plan = fmt.Sprintf("%.2f (%.2f)", r.ReqPerScan, r.MinPerScan)
	}
	e2e := "n/a"
	if !math.IsNaN(r.E2EP50) {
		e2e = fmt.Sprintf("%.1f / %.1f", r.E2EP50, r.E2EP99)
	}
	key := r.Key
	if len(r.Notes) > 0 {
		key = strings.TrimPrefix(key+"; "+strings.Join(r.Notes, "; "), "; ")
	}
	if key == "" {
		key = "-"
	}
	return []string{r.Scenario, r.Setup, fmtNum(r.RSSMB, "%.1f"), fmtNum(r.CPU, "%.3f"), fmtNum(r.ScansPerS, "%.1f"),
		fmtNum(r.TagsPerS, "%.0f"), plan, fmtNum(r.NotifPerS, "%.0f"), e2e, key, orDash(r.Target), orDash(r.Neuron)}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// markdownTable renders rows as a Markdown table (pipes in cells escaped).
func markdownTable(rows []*result) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		cs := r.cells()
		for i, c := range cs {
			cs[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cs, " | ") + " |\n")
	}
	return b.String()
}
