package mbtest

import (
	"testing"
	"time"

	sv "github.com/simonvetter/modbus"
)

func client(t *testing.T, addr string) *sv.ModbusClient {
	t.Helper()
	c, err := sv.NewClient(&sv.ClientConfiguration{URL: "tcp://" + addr, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A counting register goes up on every read, through a proxy until it turns
// into a black hole, and the server answers again after a restart.
func TestServerCountProxyRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.CountOn(1, 0)
	s.SetHR(1, 1, 42)
	px := StartProxy(t, s.Addr)
	c := client(t, px.Addr)
	for want := uint16(1); want <= 3; want++ {
		got, err := c.ReadRegisters(0, 2, sv.HOLDING_REGISTER)
		if err != nil || got[0] != want || got[1] != 42 {
			t.Fatalf("read %d: %v %v, want [%d 42]", want, got, err, want)
		}
	}
	if s.Reads() != 3 || px.Accepted() != 1 {
		t.Errorf("reads %d, accepted %d, want 3 and 1", s.Reads(), px.Accepted())
	}
	px.BlackHole(true)
	if _, err := c.ReadRegisters(0, 1, sv.HOLDING_REGISTER); err == nil {
		t.Errorf("a read through the black hole was answered")
	}
	if s.Reads() != 3 {
		t.Errorf("the server answered %d reads, want 3", s.Reads())
	}
	s.Stop()
	s.Restart(t)
	c2 := client(t, s.Addr)
	if got, err := c2.ReadRegisters(0, 1, sv.HOLDING_REGISTER); err != nil || got[0] != 4 {
		t.Errorf("after the restart: %v %v, want [4]", got, err)
	}
}

// The raw responder counts in mode ok and breaks frames in the others.
func TestRawModes(t *testing.T) {
	t.Parallel()
	r := StartRaw(t)
	c := client(t, r.Addr)
	if got, err := c.ReadRegisters(0, 1, sv.HOLDING_REGISTER); err != nil || got[0] != 1 {
		t.Fatalf("ok: %v %v, want [1]", got, err)
	}
	r.SetMode("wrong-fc")
	if _, err := c.ReadRegisters(0, 1, sv.HOLDING_REGISTER); err == nil {
		t.Errorf("wrong-fc: answer accepted")
	}
}
