package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0..100) of xs by the
// nearest-rank method; NaN for no data. xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if p <= 0 {
		return s[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// median of xs (the 50th percentile); NaN for no data.
func median(xs []float64) float64 { return percentile(xs, 50) }

// intervalsMs returns the gaps between consecutive times, in ms.
func intervalsMs(ts []time.Time) []float64 {
	if len(ts) < 2 {
		return nil
	}
	out := make([]float64, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		out = append(out, float64(ts[i].Sub(ts[i-1]))/float64(time.Millisecond))
	}
	return out
}

// fmtNum prints a measured number, or "n/a" for NaN (not measured).
func fmtNum(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// growthPct is the growth from a to b in percent.
func growthPct(a, b float64) float64 {
	if a <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return (b - a) / a * 100
}
