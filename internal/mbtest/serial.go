package mbtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Python is the interpreter that has Debian's python3-pymodbus.
const Python = "/usr/bin/python3"

// SerialPeer is a pty pair made by socat: the driver opens Port, and a
// pymodbus responder serves the other end at 19200 8N1.
type SerialPeer struct {
	Port string // the driver's end
	Far  string // the responder's end
}

// StartSerial starts socat and the responder script (mode "rtu" or
// "ascii") serving units. It skips the test when socat or pymodbus is not
// installed (`apt-get install -y socat python3-pymodbus`; make test does).
func StartSerial(t testing.TB, script, mode string, units ...int) *SerialPeer {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("mbtest: socat is not installed (apt-get install -y socat python3-pymodbus)")
	}
	if err := exec.Command(Python, "-c", "import pymodbus").Run(); err != nil {
		t.Skipf("mbtest: %s cannot import pymodbus (apt-get install -y python3-pymodbus): %v", Python, err)
	}
	dir := t.TempDir()
	p := &SerialPeer{Port: filepath.Join(dir, "A"), Far: filepath.Join(dir, "B")}
	socat := exec.Command("socat", "-d", "-d",
		"pty,raw,echo=0,link="+p.Port, "pty,raw,echo=0,link="+p.Far)
	socat.Stderr = io.Discard
	if err := socat.Start(); err != nil {
		t.Fatalf("mbtest: start socat: %v", err)
	}
	t.Cleanup(func() { stop(socat) })
	for i := 0; ; i++ {
		_, errA := os.Stat(p.Port)
		_, errB := os.Stat(p.Far)
		if errA == nil && errB == nil {
			break
		}
		if i == 100 {
			t.Fatalf("mbtest: socat made no pty pair in %s", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	args := []string{script, p.Far, mode}
	for _, u := range units {
		args = append(args, strconv.Itoa(u))
	}
	resp := exec.Command(Python, args...)
	out, err := resp.StdoutPipe()
	if err != nil {
		t.Fatalf("mbtest: responder: %v", err)
	}
	var stderr strings.Builder
	resp.Stderr = &stderr
	if err := resp.Start(); err != nil {
		t.Fatalf("mbtest: start responder: %v", err)
	}
	t.Cleanup(func() { stop(resp) })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("mbtest: responder did not start")
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("mbtest: responder not ready after 20s")
	}
	return p
}

func stop(c *exec.Cmd) {
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

// Inject writes b into the line towards the driver, as noise on an RS-485
// line would arrive.
func (p *SerialPeer) Inject(b []byte) error {
	f, err := os.OpenFile(p.Far, os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(b)
	return err
}

// Bridge serves the driver's end of the pty on a TCP listener on
// 127.0.0.1:0, like a serial-to-Ethernet converter (for rtu_over_tcp). It
// serves one connection at a time and closes at the end of the test.
func (p *SerialPeer) Bridge(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mbtest: bridge: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []io.Closer
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f, err := os.OpenFile(p.Port, os.O_RDWR|syscall.O_NOCTTY, 0)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, f)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(f, c)
				_ = f.Close()
			}()
			_, _ = io.Copy(c, f)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// String names the peer in test logs.
func (p *SerialPeer) String() string { return fmt.Sprintf("pty %s <-> %s", p.Port, p.Far) }
