package uaauth

import (
	"net"
	"sync"
	"time"
)

// Failed logins slow down later attempts from the same peer: each failure
// in the last minute adds 200 ms before the next check, up to 2 s. The
// delay comes before the password is checked, so opening more connections
// in parallel does not get around it.
const (
	failWindow = time.Minute
	failStep   = 200 * time.Millisecond
	maxDelay   = 2 * time.Second
	maxKept    = int(maxDelay / failStep) // more failures would not lengthen the delay
	maxPeers   = 10000                    // bounds the memory an attack from many addresses can take
)

type throttle struct {
	mu    sync.Mutex
	fails map[string][]time.Time // per peer host: times of recent failures, oldest first
}

// peerHost drops the port: each connection of a client has a new one.
func peerHost(peer string) string {
	if h, _, err := net.SplitHostPort(peer); err == nil {
		return h
	}
	return peer
}

// delay returns how long the next attempt from peer must wait.
func (t *throttle) delay(peer string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.recent(peer, now))
	return min(time.Duration(n)*failStep, maxDelay)
}

// recent prunes and returns peer's failures within the window; t.mu is held.
func (t *throttle) recent(peer string, now time.Time) []time.Time {
	fs := t.fails[peer]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= failWindow {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.fails, peer)
		return nil
	}
	t.fails[peer] = fs
	return fs
}

func (t *throttle) fail(peer string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fails == nil {
		t.fails = map[string][]time.Time{}
	}
	if _, ok := t.fails[peer]; !ok && len(t.fails) >= maxPeers {
		for p := range t.fails {
			t.recent(p, now)
		}
		for p := range t.fails { // still full: forget arbitrary peers
			if len(t.fails) < maxPeers {
				break
			}
			delete(t.fails, p)
		}
	}
	fs := append(t.recent(peer, now), now)
	if len(fs) > maxKept {
		fs = fs[len(fs)-maxKept:]
	}
	t.fails[peer] = fs
}

func (t *throttle) reset(peer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, peer)
}
