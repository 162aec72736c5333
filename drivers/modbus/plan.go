package modbus

import (
	"cmp"
	"fmt"
	"slices"
)

// Limits bound the requests the planner builds.
type Limits struct {
	MaxRegisters int // registers per read (FC3/FC4); default 120, protocol limit 125
	MaxBits      int // bits per read (FC1/FC2); default 2000, protocol limit 2000
	MaxGap       int // unused registers (bits, in bit tables) a request may read to join two values; default 16
}

// Protocol limits of one read request.
const (
	LimitRegisters = 125
	LimitBits      = 2000
)

// DefaultLimits returns the limits used when a device sets none.
func DefaultLimits() Limits { return Limits{MaxRegisters: 120, MaxBits: 2000, MaxGap: 16} }

// Validate checks user-set limits (max_registers, max_bits, max_gap).
func (l Limits) Validate() error {
	switch {
	case l.MaxRegisters < 1 || l.MaxRegisters > LimitRegisters:
		return fmt.Errorf("modbus: max_registers %d out of range 1..%d", l.MaxRegisters, LimitRegisters)
	case l.MaxBits < 1 || l.MaxBits > LimitBits:
		return fmt.Errorf("modbus: max_bits %d out of range 1..%d", l.MaxBits, LimitBits)
	case l.MaxGap < 0:
		return fmt.Errorf("modbus: max_gap %d must not be negative", l.MaxGap)
	}
	return nil
}

// normalized returns l with zero or out-of-range values replaced, so that the
// planner never builds a request the protocol forbids.
func (l Limits) normalized() Limits {
	d := DefaultLimits()
	if l.MaxRegisters <= 0 {
		l.MaxRegisters = d.MaxRegisters
	}
	l.MaxRegisters = min(l.MaxRegisters, LimitRegisters)
	if l.MaxBits <= 0 {
		l.MaxBits = d.MaxBits
	}
	l.MaxBits = min(l.MaxBits, LimitBits)
	l.MaxGap = max(l.MaxGap, 0)
	return l
}

func (l Limits) max(t Table) int {
	if t.IsBits() {
		return l.MaxBits
	}
	return l.MaxRegisters
}

// Item is one point covered by a Request.
type Item struct {
	Index int   // index into the points slice given to Plan
	Point Point // the point; its words are words[Addr-Start : Addr-Start+Count]
}

// Request is one read on the wire.
type Request struct {
	Unit  uint8
	Table Table
	Start uint16 // first PDU address
	Count uint16 // registers or bits
	Items []Item // sorted by address, then Index
}

// Function is the read function code of the request.
func (r Request) Function() uint8 { return r.Table.ReadFunction() }

// String describes the request for logs and `tagbridge plan`, e.g.
// "unit 1 fc3 hr:0 x10 (40001-40010), 4 points".
func (r Request) String() string {
	last := uint16(int(r.Start) + max(int(r.Count), 1) - 1)
	return fmt.Sprintf("unit %d fc%d %s:%d x%d (%s-%s), %d points",
		r.Unit, r.Function(), r.Table, r.Start, r.Count, r.Table.Modicon(r.Start), r.Table.Modicon(last), len(r.Items))
}

// Plan merges points into as few read requests as the limits allow, all for
// one unit id. Points are grouped by table and sorted by address. Two values
// share a request when the request stays within MaxRegisters (MaxBits) and
// every run of addresses it reads that no point covers is at most MaxGap
// long. A value is never split across requests; a value longer than
// MaxRegisters (a long string) gets a request of its own, as long as the
// value. Points may share registers (bits of one word, overlapping values).
// The result is ordered by table, then start address, and is deterministic.
//
// The algorithm is greedy and optimal (it returns MinRequests requests): the
// unplanned value with the lowest address must start some request, and a
// request starting there covers every unplanned value that fits below
// Start+Max, so taking all of them never costs a later request.
func Plan(unit uint8, points []Point, lim Limits) []Request {
	lim = lim.normalized()
	var reqs []Request
	for _, idx := range groupByTable(points) {
		t := points[idx[0]].Table
		max := lim.max(t)
		for _, cl := range clusters(points, idx, lim.MaxGap) {
			planned := make([]bool, len(cl))
			first := 0 // first unplanned position in cl
			for {
				for first < len(cl) && planned[first] {
					first++
				}
				if first == len(cl) {
					break
				}
				p0 := points[cl[first]]
				start := int(p0.Addr)
				end := p0.End()
				items := []Item{{Index: cl[first], Point: p0}}
				planned[first] = true
				if p0.Count() <= max {
					for j := first + 1; j < len(cl) && int(points[cl[j]].Addr) < start+max; j++ {
						p := points[cl[j]]
						if planned[j] || p.End() > start+max {
							continue
						}
						planned[j] = true
						items = append(items, Item{Index: cl[j], Point: p})
						end = maxInt(end, p.End())
					}
				}
				reqs = append(reqs, Request{Unit: unit, Table: t, Start: uint16(start), Count: uint16(end - start), Items: items})
			}
		}
	}
	slices.SortStableFunc(reqs, func(a, b Request) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Start, b.Start),
			cmp.Compare(a.Count, b.Count), cmp.Compare(a.Items[0].Index, b.Items[0].Index))
	})
	return reqs
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// groupByTable returns the indexes of points per table (tables in order),
// each sorted by address, then end, then index. Points with an invalid table
// are left out.
func groupByTable(points []Point) [][]int {
	var out [][]int
	for _, t := range []Table{Coils, DiscreteInputs, InputRegisters, HoldingRegisters} {
		var idx []int
		for i, p := range points {
			if p.Table == t && p.Count() > 0 {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		slices.SortFunc(idx, func(a, b int) int {
			pa, pb := points[a], points[b]
			return cmp.Or(cmp.Compare(pa.Addr, pb.Addr), cmp.Compare(pa.End(), pb.End()), cmp.Compare(a, b))
		})
		out = append(out, idx)
	}
	return out
}

// clusters splits sorted point indexes where the addresses that no point
// covers run longer than maxGap: no request may cross such a hole.
func clusters(points []Point, idx []int, maxGap int) [][]int {
	var out [][]int
	begin, reach := 0, points[idx[0]].End()
	for k := 1; k < len(idx); k++ {
		p := points[idx[k]]
		if int(p.Addr)-reach > maxGap {
			out = append(out, idx[begin:k])
			begin = k
		}
		reach = maxInt(reach, p.End())
	}
	return append(out, idx[begin:])
}

// Split divides a request that failed with exception 2 (illegal data
// address) into two halves along item boundaries, each half reading only the
// span of its own items. A request with one item is returned as it is. The
// caller splits the failing halves again until the bad items stand alone:
// a bad item among n is isolated in about log2(n) rounds.
func Split(r Request) []Request {
	if len(r.Items) <= 1 {
		return []Request{r}
	}
	items := slices.Clone(r.Items)
	slices.SortStableFunc(items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(a.Point.Addr, b.Point.Addr), cmp.Compare(a.Point.End(), b.Point.End()))
	})
	h := len(items) / 2
	return []Request{span(r, items[:h]), span(r, items[h:])}
}

func span(r Request, items []Item) Request {
	start, end := int(items[0].Point.Addr), items[0].Point.End()
	for _, it := range items[1:] {
		start = min(start, int(it.Point.Addr))
		end = maxInt(end, it.Point.End())
	}
	return Request{Unit: r.Unit, Table: r.Table, Start: uint16(start), Count: uint16(end - start), Items: items}
}

// Words returns the words of item it from the words of its request r.
func (r Request) Words(words []uint16, it Item) []uint16 {
	off := int(it.Point.Addr) - int(r.Start)
	return words[off : off+it.Point.Count()]
}

// MinRequests is the least number of requests any plan of points can have
// under lim, computed independently of Plan for the benchmark ratio.
//
// It solves the problem as interval piercing: a request reading [S, S+Max)
// covers a value [s, e) exactly when e-Max <= S <= s, so each value asks for
// a request start inside its own interval [e-Max, s]. No request crosses a
// hole longer than MaxGap, so each cluster between holes is solved alone.
// The least number of points piercing a set of intervals is found by the
// classic greedy: sort by right end, pierce at the first unpierced right end.
// Values longer than Max need a request each.
func MinRequests(points []Point, lim Limits) int {
	lim = lim.normalized()
	total := 0
	for _, idx := range groupByTable(points) {
		max := lim.max(points[idx[0]].Table)
		for _, cl := range clusters(points, idx, lim.MaxGap) {
			type iv struct{ lo, hi int }
			var ivs []iv
			for _, i := range cl {
				p := points[i]
				if p.Count() > max {
					total++
					continue
				}
				ivs = append(ivs, iv{p.End() - max, int(p.Addr)})
			}
			slices.SortFunc(ivs, func(a, b iv) int { return cmp.Compare(a.hi, b.hi) })
			pierced := false
			at := 0
			for _, v := range ivs {
				if pierced && v.lo <= at { // at <= v.hi holds by the sort
					continue
				}
				at, pierced = v.hi, true
				total++
			}
		}
	}
	return total
}
