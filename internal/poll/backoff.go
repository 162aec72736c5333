package poll

import (
	"math/rand/v2"
	"time"
)

// backoff is exponential backoff with full jitter above a floor: the n-th
// wait is uniform in [min, min(max, min*2^n)]. The floor keeps a refused
// connection from being retried in a tight loop; the jitter keeps a line of
// devices that lost power together from reconnecting in lockstep.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	ceil := b.max
	if b.n < 62 {
		if c := b.min << b.n; c > 0 && c < b.max {
			ceil = c
			b.n++
		}
	}
	if ceil <= b.min {
		return b.min
	}
	return b.min + rand.N(ceil-b.min+1)
}

func (b *backoff) reset() { b.n = 0 }
