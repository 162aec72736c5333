package modbus

import (
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	sv "github.com/simonvetter/modbus"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// Benchmarks of the driver against real peers; docs/modbus.md (Benchmarks)
// has the numbers and the commands. Run with
//
//	go test -run '^$' -bench 'Throughput|RTU' -count 5 ./drivers/modbus/

// benchTags is the tag count of BenchmarkThroughput: 1000 float32 values,
// 2000 holding registers from hr:0.
const benchTags = 1000

// floatServer is a bare simonvetter Modbus TCP server on 127.0.0.1 holding
// benchTags float32 values (ABCD) in hr:0.. — no logging proxy in front, so
// both sub-benchmarks see the same server cost.
type floatServer struct {
	mu  sync.Mutex
	hr  [2 * benchTags]uint16
	srv *sv.ModbusServer
}

func startFloatServer(b *testing.B) string {
	b.Helper()
	s := &floatServer{}
	for i := range benchTags {
		f := math.Float32bits(float32(i) + 0.5)
		s.hr[2*i], s.hr[2*i+1] = uint16(f>>16), uint16(f)
	}
	var err error
	for range 5 {
		// The library cannot listen on :0 and report the port: take a free
		// one from a :0 listener and retry if another process grabs it.
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			continue
		}
		addr := l.Addr().String()
		_ = l.Close()
		s.srv, err = sv.NewServer(&sv.ServerConfiguration{
			URL: "tcp://" + addr, Timeout: time.Minute, MaxClients: 4, Logger: log.New(io.Discard, "", 0),
		}, s)
		if err == nil {
			if err = s.srv.Start(); err == nil {
				b.Cleanup(func() { _ = s.srv.Stop() })
				return addr
			}
		}
	}
	b.Fatalf("bench server: %v", err)
	return ""
}

func (s *floatServer) HandleHoldingRegisters(r *sv.HoldingRegistersRequest) ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.IsWrite || int(r.Addr)+int(r.Quantity) > len(s.hr) {
		return nil, sv.ErrIllegalDataAddress
	}
	return append([]uint16(nil), s.hr[r.Addr:int(r.Addr)+int(r.Quantity)]...), nil
}

func (s *floatServer) HandleCoils(*sv.CoilsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

func (s *floatServer) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}

func (s *floatServer) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}

func benchOpen(b *testing.B, opts map[string]any) *Device {
	b.Helper()
	d, err := NewDriver().Open(context.Background(), "bench", opts)
	if err != nil {
		b.Fatalf("Open(%v): %v", opts, err)
	}
	b.Cleanup(func() { _ = d.Close() })
	return d.(*Device)
}

func benchPrepare(b *testing.B, d *Device, addrs []drivers.Address) drivers.Batch {
	b.Helper()
	batch, err := d.Prepare(addrs)
	if err != nil {
		b.Fatalf("Prepare: %v", err)
	}
	return batch
}

// BenchmarkThroughput compares tag reads per second through the driver (a
// prepared Batch: planner, link arbiter goroutine, codec, Samples) with a
// bare simonvetter client loop reading the same registers from the same
// server in requests of the same size and decoding the same floats, and with
// that bare loop run on a goroutine of its own.
func BenchmarkThroughput(b *testing.B) {
	addr := startFloatServer(b)
	const chunk = 120 // the driver's default max_registers: both send 17 requests
	check := func(b *testing.B, i int, v float32) {
		if v != float32(i)+0.5 {
			b.Fatalf("tag %d = %v, want %v", i, v, float32(i)+0.5)
		}
	}

	b.Run("gateway", func(b *testing.B) {
		d := benchOpen(b, map[string]any{"transport": "tcp", "address": addr, "timeout": "2s", "max_registers": chunk})
		addrs := make([]drivers.Address, benchTags)
		for i := range addrs {
			a := fmt.Sprintf("hr:%d", 2*i)
			addrs[i] = drivers.Address{Tag: a, Addr: a, Type: drivers.Float32}
		}
		batch := benchPrepare(b, d, addrs)
		out := make([]drivers.Sample, benchTags)
		ctx := context.Background()
		if err := batch.Read(ctx, out); err != nil { // connect outside the timing
			b.Fatalf("first read: %v", err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := batch.Read(ctx, out); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for i, s := range out {
			if s.Quality != drivers.Good {
				b.Fatalf("tag %d: %v %v", i, s.Quality, s.Err)
			}
			check(b, i, s.Value.(float32))
		}
		b.ReportMetric(float64(b.N*benchTags)/b.Elapsed().Seconds(), "tags/s")
		b.ReportMetric(float64(len(batch.(*Batch).reqs)), "requests/scan")
	})

	// bare returns the bare loop's scan; it reports a failed read (it may
	// run on a goroutine that must not call b.Fatal).
	bare := func(b *testing.B) (scan func() error, vals []float32) {
		c, err := sv.NewClient(&sv.ClientConfiguration{URL: "tcp://" + addr, Timeout: 2 * time.Second, Logger: log.New(io.Discard, "", 0)})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Open(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		vals = make([]float32, benchTags)
		return func() error {
			for start := 0; start < 2*benchTags; start += chunk {
				n := min(chunk, 2*benchTags-start)
				regs, err := c.ReadRegisters(uint16(start), uint16(n), sv.HOLDING_REGISTER)
				if err != nil {
					return err
				}
				for k := 0; k+1 < len(regs); k += 2 {
					vals[(start+k)/2] = math.Float32frombits(uint32(regs[k])<<16 | uint32(regs[k+1]))
				}
			}
			return nil
		}, vals
	}
	report := func(b *testing.B, vals []float32) {
		for i, v := range vals {
			check(b, i, v)
		}
		b.ReportMetric(float64(b.N*benchTags)/b.Elapsed().Seconds(), "tags/s")
		b.ReportMetric(float64((2*benchTags+chunk-1)/chunk), "requests/scan")
	}

	b.Run("bare", func(b *testing.B) {
		scan, vals := bare(b)
		if err := scan(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := scan(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		report(b, vals)
	})

	// The bare loop again, but run on a goroutine of its own that the
	// benchmark hands each scan to and waits for, as the driver's link
	// goroutine is (DESIGN.md: only the link's goroutine touches the
	// wire): what that structure costs by itself, without the driver.
	b.Run("bare-goroutine", func(b *testing.B) {
		scan, vals := bare(b)
		if err := scan(); err != nil {
			b.Fatal(err)
		}
		req, done := make(chan struct{}), make(chan error)
		go func() {
			defer close(done)
			for range req {
				done <- scan()
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		var err error
		for range b.N {
			req <- struct{}{}
			if err = <-done; err != nil {
				break
			}
		}
		b.StopTimer()
		close(req)
		<-done // the goroutine has ended: vals is ours
		if err != nil {
			b.Fatal(err)
		}
		report(b, vals)
	})
}

// BenchmarkRTU measures one 10-register FC3 transaction (8-byte request,
// 25-byte reply) at 19200 8N1 against Debian's pymodbus responder on a pty
// pair. A pty delivers bytes as fast as they are written, so "pty" is the
// software cost only; "paced" puts a relay between two pty pairs that
// delivers each byte one character time (11 bits / 19200 s = 573 us) after
// the previous one, as a real line would. The wire floor is
// 33 chars x 11 bits / 19200 + 2 x 3.5 chars of silence = 22.9 ms.
func BenchmarkRTU(b *testing.B) {
	addrs := make([]drivers.Address, 10)
	for i := range addrs {
		a := fmt.Sprintf("hr:%d", i)
		addrs[i] = drivers.Address{Tag: a, Addr: a, Type: drivers.Uint16}
	}
	run := func(b *testing.B, port string) {
		d := benchOpen(b, map[string]any{
			"transport": "rtu", "port": port, "baud": 19200, "parity": "N", "stop_bits": 1,
			"unit_id": 7, "timeout": "1s",
		})
		batch := benchPrepare(b, d, addrs)
		out := make([]drivers.Sample, len(addrs))
		ctx := context.Background()
		// The responder may still be settling: allow a few tries (bounded).
		var err error
		for range 20 {
			if err = batch.Read(ctx, out); err == nil && out[0].Quality == drivers.Good {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil || out[0].Quality != drivers.Good {
			b.Fatalf("first read: %v %v", err, out[0].Err)
		}
		for range 5 { // warm up the responder outside the timing
			if err := batch.Read(ctx, out); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for range b.N {
			if err := batch.Read(ctx, out); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for i, s := range out {
			if s.Quality != drivers.Good || s.Value != uint16(7000+i) {
				b.Fatalf("hr:%d = %v %v (%v), want 7000+%d Good", i, s.Value, s.Quality, s.Err, i)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/txn")
	}

	b.Run("pty", func(b *testing.B) {
		peer := mbtest.StartSerial(b, responder, "rtu", 7)
		run(b, peer.Port)
	})

	b.Run("paced", func(b *testing.B) {
		peer := mbtest.StartSerial(b, responder, "rtu", 7)
		near, relayEnd := ptyPair(b)
		pace(b, relayEnd, peer.Port, charTime(19200, 11))
		run(b, near)
	})
}

// charTime is the time one character of bits bits takes at baud.
func charTime(baud, bits int) time.Duration {
	return time.Duration(bits) * time.Second / time.Duration(baud)
}

// ptyPair starts `socat pty pty` and returns the two ends; it stops socat at
// the end of the benchmark.
func ptyPair(b *testing.B) (string, string) {
	b.Helper()
	dir := b.TempDir()
	x, y := filepath.Join(dir, "X"), filepath.Join(dir, "Y")
	cmd := exec.Command("socat", "-d", "-d", "pty,raw,echo=0,link="+x, "pty,raw,echo=0,link="+y)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatalf("socat: %v", err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	for range 100 {
		_, ex := os.Stat(x)
		_, ey := os.Stat(y)
		if ex == nil && ey == nil {
			return x, y
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("socat made no pty pair in %s", dir)
	return "", ""
}

// pace relays bytes between the pty ends a and c in both directions,
// delivering each byte one character time after the previous one on its
// direction (or after its arrival, when the line was idle): a serial line at
// wire speed. The schedule is absolute, so a late wake-up does not slow the
// average rate below the baud rate.
func pace(b *testing.B, a, c string, char time.Duration) {
	b.Helper()
	open := func(p string) *os.File {
		f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			b.Fatalf("relay: %v", err)
		}
		return f
	}
	fa, fc := open(a), open(c)
	var wg sync.WaitGroup
	relay := func(dst, src *os.File) {
		defer wg.Done()
		buf := make([]byte, 256)
		var due time.Time
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			now := time.Now()
			if due.Before(now) {
				due = now
			}
			for _, ch := range buf[:n] {
				due = due.Add(char)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				if _, err := dst.Write([]byte{ch}); err != nil {
					return
				}
			}
		}
	}
	wg.Add(2)
	go relay(fc, fa)
	go relay(fa, fc)
	b.Cleanup(func() {
		_ = fa.Close()
		_ = fc.Close()
		wg.Wait()
	})
}
