package modbus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// The UDP peer is Debian's python3-pymodbus ModbusUdpServer with the MBAP
// socket framer (testdata/udp_responder.py) on 127.0.0.1. It holds the same
// map as the serial responder: unit u has hr[i] = u*1000+i,
// ir[i] = u*1000+500+i, coil[i] = i%2 == 0, di[i] = i%3 == 0 for i < 100.
const udpResponder = "testdata/udp_responder.py"

// udpPeer is one run of the responder. The port stays the same across
// restarts: UDP has no connection, so the driver keeps sending to it.
type udpPeer struct {
	port  int
	units []int
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has been waited for
}

// startUDPPeer starts the responder on a port the responder picks itself
// (it binds port 0 and prints it, so there is no bind race). It skips the
// test when python3 or pymodbus is missing.
func startUDPPeer(t *testing.T, units ...int) *udpPeer {
	t.Helper()
	if err := exec.Command(mbtest.Python, "-c", "import pymodbus").Run(); err != nil {
		t.Skipf("udp: %s cannot import pymodbus (apt-get install -y python3-pymodbus, or make deps-apt): %v", mbtest.Python, err)
	}
	p := &udpPeer{units: units}
	if err := p.start(0); err != nil {
		t.Fatalf("udp: %v", err)
	}
	t.Cleanup(p.kill)
	return p
}

func (p *udpPeer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// start runs the responder on port (0: any) and waits for "ready <port>".
func (p *udpPeer) start(port int) error {
	args := []string{udpResponder, strconv.Itoa(port)}
	for _, u := range p.units {
		args = append(args, strconv.Itoa(u))
	}
	cmd := exec.Command(mbtest.Python, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start responder: %w", err)
	}
	done := make(chan struct{})
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		got := -1
		if sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "ready" {
				got, _ = strconv.Atoi(f[1])
			}
		}
		ready <- got
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case got := <-ready:
		if got <= 0 {
			<-done
			return fmt.Errorf("responder did not start on port %d: %s", port, stderr.String())
		}
		p.port, p.cmd, p.done = got, cmd, done
		return nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("responder not ready after 20s: %s", stderr.String())
	}
}

// kill stops the responder at once (SIGKILL: a crashed PLC says nothing).
// It is idempotent.
func (p *udpPeer) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// signal sends sig to the running responder (SIGSTOP / SIGCONT: a hung
// PLC whose socket stays open).
func (p *udpPeer) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if p.cmd == nil {
		t.Fatalf("udp: signal %v: responder not running", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("udp: signal %v: %v", sig, err)
	}
}

// restart starts the responder again on the same port. A UDP port is free
// again as soon as its socket is closed; another process may still take it
// in between, which the retries cover.
func (p *udpPeer) restart(t *testing.T) {
	t.Helper()
	var err error
	for i := 0; i < 5; i++ {
		if err = p.start(p.port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("udp: restart on port %d: %v", p.port, err)
}

func udpOpts(address string, unit int, kv ...any) map[string]any {
	m := map[string]any{
		"transport": "udp", "address": address, "unit_id": unit, "timeout": "300ms",
		"reconnect_min": "20ms", "reconnect_max": "100ms",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestUDPTransport(t *testing.T) {
	t.Parallel()
	peer := startUDPPeer(t, 1, 2)
	drv := NewDriver()
	d1 := openDev(t, drv, "u1", udpOpts(peer.addr(), 1))
	d2 := openDev(t, drv, "u2", udpOpts(peer.addr(), 2, "force_multiple_writes", true))
	if st := drv.LinkStats(); len(st) != 1 || st[0].Devices != 2 {
		t.Fatalf("link stats %+v, want one shared udp link", st)
	}

	// Reads of every table, two unit ids over one socket.
	addrs := []drivers.Address{
		addr("hr:0", drivers.Uint16), addr("40003", drivers.Uint16), addr("hr:10", drivers.Uint32),
		addr("ir:1", drivers.Uint16), addr("30100", drivers.Uint16),
		addr("coil:0", drivers.Bool), addr("coil:1", drivers.Bool), addr("di:3", drivers.Bool), addr("di:4", drivers.Bool),
	}
	for _, c := range []struct {
		d    *Device
		base uint16
	}{{d1, 1000}, {d2, 2000}} {
		out := readUntilGood(t, c.d, addrs)
		want := []any{c.base, c.base + 2, uint32(c.base+10)<<16 | uint32(c.base+11), c.base + 501, c.base + 599,
			true, false, true, false}
		for i, w := range want {
			if out[i].Value != w {
				t.Errorf("%s %s = %v, want %v", c.d.name, addrs[i].Addr, out[i].Value, w)
			}
		}
	}

	t.Run("exception 2 is isolated", func(t *testing.T) {
		// One merged FC3 request over hr:98..100; hr:100 does not exist.
		bad := []drivers.Address{addr("hr:98", drivers.Uint16), addr("hr:99", drivers.Uint16), addr("hr:100", drivers.Uint16)}
		out, err := read(t, d1, bad)
		if err != nil {
			t.Fatalf("read with a bad address: %v", err)
		}
		if out[0].Value != uint16(1098) || out[1].Value != uint16(1099) {
			t.Errorf("good neighbours: %v %v, want 1098 1099", out[0], out[1])
		}
		if out[2].Quality != drivers.BadConfigurationError {
			t.Fatalf("hr:100: %v (%v), want BadConfigurationError", out[2].Quality, out[2].Err)
		}
		if msg := fmt.Sprint(out[2].Err); !strings.Contains(msg, "hr:100") || !strings.Contains(msg, "fc3") || !strings.Contains(msg, "exception 2") {
			t.Errorf("hr:100 error %q: want the PDU address, the function code and the exception", msg)
		}
		// The next scan of the other unit is unaffected.
		readUntilGood(t, d2, addrs[:1])
	})

	t.Run("writes", func(t *testing.T) {
		// d1 writes one register with FC6, d2 (force_multiple_writes) with
		// FC16; a float32 is always FC16; a coil FC5 / FC15.
		for _, w := range []struct {
			d *Device
			a drivers.Address
			v any
		}{
			{d1, addr("hr:50", drivers.Uint16), uint16(4242)},
			{d2, addr("hr:51", drivers.Int16), int16(-7)},
			{d1, addr("hr:60", drivers.Float32), float32(-2.25)},
			{d1, addr("coil:10", drivers.Bool), false},
			{d2, addr("coil:11", drivers.Bool), true},
			{d1, addr("hr:70.15", drivers.Bool), true},
		} {
			if err := w.d.Write(t.Context(), w.a, w.v); err != nil {
				t.Errorf("%s write %s: %v", w.d.name, w.a.Addr, err)
				continue
			}
			out := readUntilGood(t, w.d, []drivers.Address{w.a})
			if out[0].Value != w.v {
				t.Errorf("%s read back %s = %v, want %v", w.d.name, w.a.Addr, out[0].Value, w.v)
			}
		}
		out := readUntilGood(t, d1, []drivers.Address{addr("hr:70", drivers.Uint16), addr("hr:50", drivers.Uint16)})
		if out[0].Value != uint16(1070|0x8000) {
			t.Errorf("hr:70 after setting bit 15 = %#x, want %#x", out[0].Value, 1070|0x8000)
		}
		// The write went to unit 1 only.
		if o := readUntilGood(t, d2, []drivers.Address{addr("hr:50", drivers.Uint16)}); o[0].Value != uint16(2050) {
			t.Errorf("unit 2 hr:50 = %v, want 2050 (untouched)", o[0].Value)
		}
	})

	if t.Failed() {
		return
	}

	// The PLC hangs (SIGSTOP): its socket stays bound, so requests are
	// neither answered nor refused: timeouts. When it wakes up it answers
	// the queued requests late; those stale replies must never be taken for
	// the answer to a later request (the classic desync after a timeout).
	// A device alone on its link (no unit backoff), whose link keeps its
	// socket through the timeouts, gets every late reply.
	solo := openDev(t, NewDriver(), "solo", udpOpts(peer.addr(), 1, "timeouts_before_reconnect", 10))
	readUntilGood(t, solo, addrs[:1])
	peer.signal(t, syscall.SIGSTOP)
	for _, a := range []string{"hr:5", "hr:6", "hr:7"} {
		out, err := read(t, solo, []drivers.Address{addr(a, drivers.Uint16)})
		if out[0].Quality != drivers.BadCommunicationError || !errors.Is(err, errTimeout) {
			t.Errorf("read %s of a hung peer: %v (%v), err %v; want BadCommunicationError and a timeout", a, out[0].Quality, out[0].Err, err)
		}
	}
	peer.signal(t, syscall.SIGCONT)
	for _, c := range []struct {
		a    string
		want uint16
	}{{"hr:8", 1008}, {"hr:9", 1009}, {"ir:8", 1508}} {
		if o := readUntilGood(t, solo, []drivers.Address{addr(c.a, drivers.Uint16)}); o[0].Value != c.want {
			t.Errorf("%s after the hang = %v, want %d (a stale reply was taken)", c.a, o[0].Value, c.want)
		}
	}
	if st := solo.drv.LinkStats()[0]; st.Timeouts != 3 || st.Reconnects != 0 {
		t.Errorf("after the hang: link %+v, want 3 timeouts on the same socket", st)
	}

	// The PLC dies. UDP has no connection to lose: the driver only sees
	// requests go unanswered (or refused by the local stack), and the points
	// go BadCommunicationError while the peer is away.
	peer.kill()
	probe := []drivers.Address{addr("hr:5", drivers.Uint16)}
	var down error
	for i := 0; i < 3; i++ {
		out, err := read(t, d1, probe)
		if out[0].Quality == drivers.Good {
			t.Fatalf("read %d after the peer was killed: Good %v", i, out[0].Value)
		}
		if out[0].Quality != drivers.BadCommunicationError {
			t.Errorf("read %d after the peer was killed: %v (%v), want BadCommunicationError", i, out[0].Quality, out[0].Err)
		}
		if err == nil {
			t.Errorf("read %d after the peer was killed: no error", i)
		}
		down = err
	}
	t.Logf("while the peer is down: %v; link %+v", down, drv.LinkStats()[0])

	// It comes back on the same port: both units read Good again without
	// reopening the devices.
	peer.restart(t)
	if o := readUntilGood(t, d1, probe); o[0].Value != uint16(1005) {
		t.Errorf("u1 hr:5 after the restart = %v, want 1005", o[0].Value)
	}
	if o := readUntilGood(t, d2, probe); o[0].Value != uint16(2005) {
		t.Errorf("u2 hr:5 after the restart = %v, want 2005", o[0].Value)
	}
	// The restarted responder starts from its initial map: the earlier
	// write is gone, which proves the reply came from the new process.
	if o := readUntilGood(t, d1, []drivers.Address{addr("hr:50", drivers.Uint16)}); o[0].Value != uint16(1050) {
		t.Errorf("u1 hr:50 after the restart = %v, want 1050 (fresh responder)", o[0].Value)
	}
	t.Logf("after recovery: link %+v", drv.LinkStats()[0])
}
