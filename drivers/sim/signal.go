package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// key identifies the state of one stateful point (random, counter, memory)
// within a device. Two tags with the same address have separate state.
type key struct {
	tag, addr string
	typ       drivers.Type
}

// state is the per-point state that outlives one Read.
type state struct {
	rng   *rand.Rand // random
	count float64    // counter: the next value to return
	mem   any        // memory: the current value, in the tag's Go type
}

// newState seeds a point's random stream from the device seed and the
// point's identity, so a point's values depend only on the seed and on how
// often that point was read, not on which other points share its batch.
func newState(seed int64, k key, p *point) *state {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", k.tag, k.addr, k.typ)
	return &state{rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64())), mem: p.val}
}

// bound is an address bound to a device: parsed, resolved against the tag
// type and holding its state. err is set when the address is unusable.
type bound struct {
	a   drivers.Address
	p   point
	st  *state
	err error
}

// phase is where in its period a wave is, in [0, 1).
func phase(elapsed, period time.Duration) float64 {
	ph := float64(elapsed%period) / float64(period)
	if ph < 0 {
		ph++
	}
	return ph
}

// sample evaluates b at time now, elapsed after the device opened.
func (b *bound) sample(dev string, now time.Time, elapsed time.Duration) drivers.Sample {
	if b.err != nil {
		return badSample(drivers.BadConfigurationError, b.err, now)
	}
	t := b.a.Type
	var v float64
	switch b.p.kind {
	case kindConst:
		return drivers.Sample{Value: b.p.val, Quality: drivers.Good, Time: now}
	case kindMemory:
		return drivers.Sample{Value: b.st.mem, Quality: drivers.Good, Time: now}
	case kindBad:
		q := b.p.quality
		return badSample(q, fmt.Errorf("sim %s: %q: injected quality %v", dev, b.a.Addr, q), now)
	case kindSine:
		v = b.p.offset + b.p.amplitude*math.Sin(2*math.Pi*phase(elapsed, b.p.period))
	case kindRamp:
		// Weighted sum rather than min+(max-min)*ph: max-min can overflow.
		ph := phase(elapsed, b.p.period)
		v = b.p.min*(1-ph) + b.p.max*ph
	case kindSquare:
		high := phase(elapsed, b.p.period) < 0.5
		if t == drivers.Bool {
			return drivers.Sample{Value: high, Quality: drivers.Good, Time: now}
		}
		v = b.p.low
		if high {
			v = b.p.high
		}
	case kindRandom:
		r := b.st.rng.Float64()
		if t == drivers.Bool {
			// value != 0 would be nearly always true; a fair coin is
			// what a user expects of a random bool.
			return drivers.Sample{Value: r >= 0.5, Quality: drivers.Good, Time: now}
		}
		v = b.p.min*(1-r) + b.p.max*r
	case kindCounter:
		v = b.st.count
		b.st.count += b.p.step
		if b.st.count > b.p.max {
			b.st.count = 0
		}
	}
	val, ok := fromFloat(v, t)
	if !ok {
		return badSample(drivers.BadOutOfRange, fmt.Errorf("sim %s: %q: value %v does not fit %s", dev, b.a.Addr, v, t), now)
	}
	return drivers.Sample{Value: val, Quality: drivers.Good, Time: now}
}

func badSample(q drivers.Quality, err error, now time.Time) drivers.Sample {
	return drivers.Sample{Quality: q, Err: &drivers.QualityError{Quality: q, Err: err}, Time: now}
}
