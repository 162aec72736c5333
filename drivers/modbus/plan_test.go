package modbus

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

func reg(t Table, addr uint16, ty drivers.Type) Point {
	p := Point{Table: t, Addr: addr, Bit: -1, Type: ty}
	if ty == drivers.String {
		p.Length = 8
	}
	return p
}

func hrs(ty drivers.Type, addrs ...uint16) []Point {
	var ps []Point
	for _, a := range addrs {
		ps = append(ps, reg(HoldingRegisters, a, ty))
	}
	return ps
}

func seq(from, n, step int) []uint16 {
	var out []uint16
	for i := range n {
		out = append(out, uint16(from+i*step))
	}
	return out
}

// shape is a compact form of a plan: "hr:0x10[3]" = table:start x count [items].
func shape(reqs []Request) string {
	var s []string
	for _, r := range reqs {
		s = append(s, fmt.Sprintf("%s:%dx%d[%d]", r.Table, r.Start, r.Count, len(r.Items)))
	}
	return strings.Join(s, " ")
}

func TestPlan(t *testing.T) {
	t.Parallel()
	def := DefaultLimits()
	small := Limits{MaxRegisters: 10, MaxBits: 16, MaxGap: 2}
	str := func(addr uint16, length int) Point {
		return Point{Table: HoldingRegisters, Addr: addr, Bit: -1, Type: drivers.String, Length: length}
	}
	bit := func(addr uint16, b int) Point {
		return Point{Table: HoldingRegisters, Addr: addr, Bit: b, Type: drivers.Bool}
	}
	tests := []struct {
		name   string
		points []Point
		lim    Limits
		want   string
	}{
		{"empty", nil, def, ""},
		{"contiguous", hrs(drivers.Int16, seq(0, 10, 1)...), def, "hr:0x10[10]"},
		{"contiguous float32", hrs(drivers.Float32, seq(100, 10, 2)...), def, "hr:100x20[10]"},
		{"gap below max", hrs(drivers.Int16, 0, 16), def, "hr:0x17[2]"},          // hole of 15
		{"gap at max", hrs(drivers.Int16, 0, 17), def, "hr:0x18[2]"},             // hole of 16
		{"gap over max", hrs(drivers.Int16, 0, 18), def, "hr:0x1[1] hr:18x1[1]"}, // hole of 17
		{"max gap zero", hrs(drivers.Int16, 0, 1, 3), Limits{MaxGap: 0}, "hr:0x2[2] hr:3x1[1]"},
		{"full request", hrs(drivers.Int16, seq(0, 120, 1)...), def, "hr:0x120[120]"},
		{"one over full", hrs(drivers.Int16, seq(0, 121, 1)...), def, "hr:0x120[120] hr:120x1[1]"},
		{"limit 125", hrs(drivers.Int16, seq(0, 130, 1)...), Limits{MaxRegisters: 125}, "hr:0x125[125] hr:125x5[5]"},
		{"over limit clamps to 125", hrs(drivers.Int16, seq(0, 130, 1)...), Limits{MaxRegisters: 500}, "hr:0x125[125] hr:125x5[5]"},
		{"float at boundary fits", append(hrs(drivers.Int16, seq(0, 8, 1)...), reg(HoldingRegisters, 8, drivers.Float32)), small, "hr:0x10[9]"},
		{"float across boundary not split", append(hrs(drivers.Int16, seq(0, 9, 1)...), reg(HoldingRegisters, 9, drivers.Float32)), small, "hr:0x9[9] hr:9x2[1]"},
		{"float64 across boundary", append(hrs(drivers.Int16, seq(0, 7, 1)...), reg(HoldingRegisters, 7, drivers.Float64)), small, "hr:0x7[7] hr:7x4[1]"},
		{"string longer than max alone", []Point{reg(HoldingRegisters, 0, drivers.Int16), str(1, 40), reg(HoldingRegisters, 21, drivers.Int16)}, small, "hr:0x1[1] hr:1x20[1] hr:21x1[1]"},
		{"bits of one word", []Point{bit(10, 0), bit(10, 15), bit(10, 3), reg(HoldingRegisters, 10, drivers.Uint16)}, def, "hr:10x1[4]"},
		{"overlapping values", []Point{reg(HoldingRegisters, 0, drivers.Float32), reg(HoldingRegisters, 1, drivers.Uint16), reg(HoldingRegisters, 0, drivers.Uint32)}, def, "hr:0x2[3]"},
		{"duplicates", hrs(drivers.Int16, 5, 5, 5), def, "hr:5x1[3]"},
		{"coils", []Point{reg(Coils, 0, drivers.Bool), reg(Coils, 1999, drivers.Bool), reg(Coils, 2000, drivers.Bool)}, Limits{MaxGap: 2000}, "coil:0x2000[2] coil:2000x1[1]"},
		{"bits gap in bits", []Point{reg(DiscreteInputs, 0, drivers.Bool), reg(DiscreteInputs, 17, drivers.Bool), reg(DiscreteInputs, 40, drivers.Bool)}, def, "di:0x18[2] di:40x1[1]"},
		{"max bits", []Point{reg(Coils, 0, drivers.Bool), reg(Coils, 15, drivers.Bool), reg(Coils, 16, drivers.Bool)}, Limits{MaxBits: 16, MaxGap: 20}, "coil:0x16[2] coil:16x1[1]"},
		{"mixed tables ordered", []Point{reg(HoldingRegisters, 0, drivers.Int16), reg(InputRegisters, 0, drivers.Int16), reg(DiscreteInputs, 0, drivers.Bool), reg(Coils, 0, drivers.Bool)}, def, "coil:0x1[1] di:0x1[1] ir:0x1[1] hr:0x1[1]"},
		{"same address different tables", []Point{reg(HoldingRegisters, 5, drivers.Float32), reg(InputRegisters, 5, drivers.Float32)}, def, "ir:5x2[1] hr:5x2[1]"},
		{"long value joins neighbours", []Point{reg(HoldingRegisters, 0, drivers.Int16), str(1, 78), reg(HoldingRegisters, 40, drivers.Int16)}, Limits{MaxRegisters: 50, MaxGap: 0}, "hr:0x41[3]"},
		// A consecutive-run planner would need 3 requests here: the value at 2
		// sticks out of the window of the first, so the one at 3 is taken first.
		{"skips a value that does not fit", []Point{reg(HoldingRegisters, 0, drivers.Int16), str(2, 18), reg(HoldingRegisters, 3, drivers.Int16)}, small, "hr:0x4[2] hr:2x9[1]"},
		{"last address", hrs(drivers.Float32, 65532, 65534), def, "hr:65532x4[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs := Plan(7, tt.points, tt.lim)
			if got := shape(reqs); got != tt.want {
				t.Fatalf("plan = %q, want %q", got, tt.want)
			}
			checkPlan(t, tt.points, tt.lim, reqs)
			if n := MinRequests(tt.points, tt.lim); n != len(reqs) {
				t.Errorf("MinRequests = %d, plan has %d", n, len(reqs))
			}
		})
	}
}

// checkPlan asserts what a user would notice if it broke: every point is
// read exactly once, whole, by a request within the limits that reads no
// hole longer than MaxGap.
func checkPlan(t *testing.T, points []Point, lim Limits, reqs []Request) {
	t.Helper()
	lim = lim.normalized()
	seen := make([]int, len(points))
	covered := map[Table]map[int]bool{}
	for _, p := range points {
		if covered[p.Table] == nil {
			covered[p.Table] = map[int]bool{}
		}
		for a := int(p.Addr); a < p.End(); a++ {
			covered[p.Table][a] = true
		}
	}
	for ri, r := range reqs {
		if ri > 0 {
			prev := reqs[ri-1]
			if prev.Table > r.Table || prev.Table == r.Table && prev.Start > r.Start {
				t.Errorf("requests out of order: %s before %s", prev, r)
			}
		}
		if r.Unit != 7 {
			t.Errorf("%s: unit %d", r, r.Unit)
		}
		if int(r.Count) > lim.max(r.Table) && len(r.Items) != 1 {
			t.Errorf("%s: count %d over the limit with %d items", r, r.Count, len(r.Items))
		}
		lo, hi := 1<<20, -1
		for _, it := range r.Items {
			seen[it.Index]++
			if it.Point != points[it.Index] {
				t.Errorf("%s: item %d holds %v, want %v", r, it.Index, it.Point, points[it.Index])
			}
			if it.Point.Table != r.Table || int(it.Point.Addr) < int(r.Start) || it.Point.End() > int(r.Start)+int(r.Count) {
				t.Errorf("%s: item %s not inside", r, it.Point)
			}
			lo, hi = min(lo, int(it.Point.Addr)), max(hi, it.Point.End())
		}
		if lo != int(r.Start) || hi != int(r.Start)+int(r.Count) {
			t.Errorf("%s: reads more than its items (%d..%d)", r, lo, hi)
		}
		hole := 0
		for a := int(r.Start); a < int(r.Start)+int(r.Count); a++ {
			if covered[r.Table][a] {
				hole = 0
				continue
			}
			if hole++; hole > lim.MaxGap {
				t.Errorf("%s: hole longer than %d at %d", r, lim.MaxGap, a)
				break
			}
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("point %d (%s) read %d times", i, points[i], n)
		}
	}
}

func TestPlanDeterministic(t *testing.T) {
	t.Parallel()
	points := randomMap(rand.New(rand.NewPCG(1, 2)), 500)
	want := Plan(1, points, DefaultLimits())
	shuffled := slices.Clone(points)
	perm := rand.New(rand.NewPCG(3, 4)).Perm(len(points))
	for i, j := range perm {
		shuffled[j] = points[i]
	}
	got := Plan(1, shuffled, DefaultLimits())
	if shape(got) != shape(want) {
		t.Fatalf("plan depends on input order:\n%s\n%s", shape(got), shape(want))
	}
	again := Plan(1, shuffled, DefaultLimits())
	for i := range got {
		if !slices.Equal(indexes(got[i]), indexes(again[i])) {
			t.Fatalf("request %d: items differ between runs", i)
		}
	}
}

func indexes(r Request) []int {
	var out []int
	for _, it := range r.Items {
		out = append(out, it.Index)
	}
	return out
}

// randomMap builds n points across all tables and types, clustered the way
// real maps are (runs of neighbours with holes between).
func randomMap(r *rand.Rand, n int) []Point {
	types := []drivers.Type{drivers.Int16, drivers.Uint16, drivers.Int32, drivers.Float32, drivers.Float64, drivers.Uint64, drivers.BCD16, drivers.String, drivers.Bool}
	var out []Point
	addr := map[Table]int{}
	for len(out) < n {
		t := Table(1 + r.IntN(4))
		addr[t] += r.IntN(4)
		if r.IntN(10) == 0 {
			addr[t] += r.IntN(60)
		}
		a := addr[t] % 60000
		p := Point{Table: t, Addr: uint16(a), Bit: -1, Type: drivers.Bool}
		if !t.IsBits() {
			p.Type = types[r.IntN(len(types))]
			switch {
			case p.Type == drivers.String:
				p.Length = 1 + r.IntN(40)
			case p.Type == drivers.Bool && r.IntN(2) == 0:
				p.Bit = r.IntN(16)
			}
		}
		out = append(out, p)
	}
	return out
}

func TestPlanIsMinimal(t *testing.T) {
	t.Parallel()
	limits := []Limits{DefaultLimits(), {MaxRegisters: 10, MaxBits: 16, MaxGap: 2}, {MaxRegisters: 125, MaxBits: 2000, MaxGap: 0}, {MaxRegisters: 4, MaxBits: 3, MaxGap: 50}}
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 99))
		n := 1 + r.IntN(300)
		if seed == 0 {
			n = 10000
		}
		points := randomMap(r, n)
		for _, lim := range limits {
			reqs := Plan(7, points, lim)
			checkPlan(t, points, lim, reqs)
			if m := MinRequests(points, lim); m != len(reqs) {
				t.Fatalf("seed %d n %d %+v: plan %d requests, minimum %d", seed, n, lim, len(reqs), m)
			}
		}
	}
}

// TestMinRequestsBruteForce checks MinRequests itself against an exhaustive
// search over every partition of small random maps.
func TestMinRequestsBruteForce(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxRegisters: 6, MaxBits: 4, MaxGap: 1}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		n := 1 + r.IntN(7)
		var points []Point
		for range n {
			tb := HoldingRegisters
			if r.IntN(4) == 0 {
				tb = Coils
			}
			p := Point{Table: tb, Addr: uint16(r.IntN(14)), Bit: -1, Type: drivers.Bool}
			if tb == HoldingRegisters {
				p.Type, p.Length = drivers.String, 1+r.IntN(16) // 1..8 registers, some longer than max
			}
			points = append(points, p)
		}
		want := bruteForce(points, lim)
		if got := MinRequests(points, lim); got != want {
			t.Fatalf("seed %d: MinRequests = %d, exhaustive = %d for %v", seed, got, want, points)
		}
		if got := len(Plan(0, points, lim)); got != want {
			t.Fatalf("seed %d: Plan = %d, exhaustive = %d for %v", seed, got, want, points)
		}
	}
}

func bruteForce(points []Point, lim Limits) int {
	lim = lim.normalized()
	covered := map[Table]map[int]bool{}
	for _, p := range points {
		if covered[p.Table] == nil {
			covered[p.Table] = map[int]bool{}
		}
		for a := int(p.Addr); a < p.End(); a++ {
			covered[p.Table][a] = true
		}
	}
	feasible := func(block []Point) bool {
		if len(block) == 1 {
			return true
		}
		lo, hi := 1<<20, -1
		for _, p := range block {
			if p.Table != block[0].Table {
				return false
			}
			lo, hi = min(lo, int(p.Addr)), max(hi, p.End())
		}
		if hi-lo > lim.max(block[0].Table) {
			return false
		}
		hole := 0
		for a := lo; a < hi; a++ {
			if covered[block[0].Table][a] {
				hole = 0
			} else if hole++; hole > lim.MaxGap {
				return false
			}
		}
		return true
	}
	best := len(points)
	var blocks [][]Point
	var rec func(i int)
	rec = func(i int) {
		if len(blocks) >= best {
			return
		}
		if i == len(points) {
			for _, b := range blocks {
				if !feasible(b) {
					return
				}
			}
			best = len(blocks)
			return
		}
		for k := range blocks {
			blocks[k] = append(blocks[k], points[i])
			rec(i + 1)
			blocks[k] = blocks[k][:len(blocks[k])-1]
		}
		blocks = append(blocks, []Point{points[i]})
		rec(i + 1)
		blocks = blocks[:len(blocks)-1]
	}
	rec(0)
	return best
}

// TestSplitIsolates: after exception 2 on a merged request, repeated halving
// isolates the one bad value in ceil(log2 n) rounds while every other value
// ends up in a request that succeeds.
func TestSplitIsolates(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3, 7, 64, 100, 120} {
		for _, bad := range []int{0, n / 2, n - 1} {
			points := hrs(drivers.Int16, seq(0, n, 1)...)
			reqs := Plan(1, points, DefaultLimits())
			if len(reqs) != 1 {
				t.Fatalf("n=%d: %d requests", n, len(reqs))
			}
			fails := func(r Request) bool { return int(r.Start) <= bad && bad < int(r.Start)+int(r.Count) }
			queue, good, rounds := reqs, 0, 0
			var isolated []Request
			for len(queue) > 0 && rounds < 20 {
				var next []Request
				for _, r := range queue {
					switch {
					case !fails(r):
						good += len(r.Items)
					case len(r.Items) == 1:
						isolated = append(isolated, r)
					default:
						next = append(next, Split(r)...)
					}
				}
				if len(next) > 0 {
					rounds++
				}
				queue = next
			}
			if want := bits.Len(uint(n - 1)); rounds > want {
				t.Errorf("n=%d bad=%d: %d rounds, want <= %d", n, bad, rounds, want)
			}
			if len(isolated) != 1 || isolated[0].Items[0].Index != bad || isolated[0].Count != 1 {
				t.Errorf("n=%d bad=%d: isolated %v", n, bad, isolated)
			}
			if good != n-1 {
				t.Errorf("n=%d bad=%d: %d good items, want %d", n, bad, good, n-1)
			}
		}
	}
	one := Plan(1, hrs(drivers.Float32, 4), DefaultLimits())[0]
	if s := Split(one); len(s) != 1 || s[0].Start != 4 || s[0].Count != 2 {
		t.Errorf("Split of one item = %v", s)
	}
}

func TestRequestString(t *testing.T) {
	t.Parallel()
	r := Plan(1, hrs(drivers.Int16, seq(0, 10, 1)...), DefaultLimits())[0]
	if s, want := r.String(), "unit 1 fc3 hr:0 x10 (40001-40010), 10 points"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	words := seq(100, 10, 1)
	if w := r.Words(words, r.Items[3]); len(w) != 1 || w[0] != 103 {
		t.Errorf("Words = %v", w)
	}
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Limits{{0, 2000, 16}, {126, 2000, 16}, {120, 0, 16}, {120, 2001, 16}, {120, 2000, -1}} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v: no error", l)
		}
	}
}

// benchMaps are the tag maps of the optimiser benchmark.
func benchMaps() map[string][]Point {
	r := rand.New(rand.NewPCG(42, 42))
	contiguous := hrs(drivers.Int16, seq(0, 1000, 1)...)
	var sparse []Point
	a := 0
	for range 500 {
		a += 2 + r.IntN(30)
		sparse = append(sparse, reg(HoldingRegisters, uint16(a), drivers.Float32))
	}
	mixed := randomMap(r, 1000)
	return map[string][]Point{"contiguous": contiguous, "sparse": sparse, "mixed": mixed, "10k": randomMap(r, 10000)}
}

// BenchmarkPlanRatio reports requests per scan and the ratio to the minimum
// possible under the same limits (target 1.00) for realistic maps.
func BenchmarkPlanRatio(b *testing.B) {
	maps := benchMaps()
	for _, name := range []string{"contiguous", "sparse", "mixed", "10k"} {
		points := maps[name]
		b.Run(name, func(b *testing.B) {
			var n int
			for b.Loop() {
				n = len(Plan(1, points, DefaultLimits()))
			}
			m := MinRequests(points, DefaultLimits())
			b.ReportMetric(float64(len(points)), "tags")
			b.ReportMetric(float64(n), "requests/scan")
			b.ReportMetric(float64(n)/float64(m), "ratio-to-min")
		})
	}
}

// BenchmarkPlan10k is the planning cost of Prepare for 10,000 tags.
func BenchmarkPlan10k(b *testing.B) {
	points := benchMaps()["10k"]
	for b.Loop() {
		Plan(1, points, DefaultLimits())
	}
}
