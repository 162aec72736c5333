package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"

	sv "github.com/simonvetter/modbus"
)

// probePeer is a simonvetter Modbus TCP server on 127.0.0.1 holding fixed
// holding registers for unit 1; every other unit id answers exception 11.
type probePeer struct {
	mu sync.Mutex
	hr map[uint16]uint16
}

func (p *probePeer) HandleCoils(*sv.CoilsRequest) ([]bool, error) { return nil, sv.ErrIllegalFunction }
func (p *probePeer) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (p *probePeer) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}

func (p *probePeer) HandleHoldingRegisters(r *sv.HoldingRegistersRequest) ([]uint16, error) {
	if r.UnitId != 1 {
		return nil, sv.ErrGWTargetFailedToRespond
	}
	if r.IsWrite {
		return nil, sv.ErrIllegalFunction
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]uint16, r.Quantity)
	for i := range out {
		out[i] = p.hr[r.Addr+uint16(i)]
	}
	return out, nil
}

// startProbePeer starts the server on a free port of 127.0.0.1. The library
// does not expose its listener, so the port comes from a :0 listen that is
// closed just before; a race with another process is retried.
func startProbePeer(t *testing.T, hr map[uint16]uint16) string {
	t.Helper()
	var errs []error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		srv, err := sv.NewServer(&sv.ServerConfiguration{URL: "tcp://" + addr, MaxClients: 4}, &probePeer{hr: hr})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			errs = append(errs, err)
			continue
		}
		t.Cleanup(func() { _ = srv.Stop() })
		return addr
	}
	t.Fatalf("start modbus server: %v", errors.Join(errs...))
	return ""
}

// TestCLIProbeModbus: probe reads the registers once and the float32 that
// the PLC holds word-swapped (CDAB) shows in the CDAB column.
func TestCLIProbeModbus(t *testing.T) {
	t.Parallel()
	const want = float32(123.456)
	bits := math.Float32bits(want)
	hi, lo := uint16(bits>>16), uint16(bits)
	addr := startProbePeer(t, map[uint16]uint16{
		0: lo, 1: hi, // float32 123.456, CDAB: low word first
		2: 0x1234, // bcd16 1234, int16 4660
		3: 0x4142, // "AB"
	})

	r := runCLI(t, "", "probe", "modbus", "--transport", "tcp", "--address", addr, "--unit", "1", "--start", "40001", "--count", "4")
	if r.code != exitOK {
		t.Fatalf("probe failed\n%s", r)
	}
	cols := probeColumns(t, r.stdout)
	row := probeRow(t, r.stdout, "hr:0", "float32")
	if got := row[cols["CDAB"]]; got != "123.456" {
		t.Errorf("float32 at hr:0 in CDAB = %q, want 123.456\n%s", got, r.stdout)
	}
	if got := row[cols["ABCD"]]; got == "123.456" {
		t.Errorf("float32 at hr:0 reads 123.456 in ABCD too; the orders are not told apart\n%s", r.stdout)
	}
	if got := probeRow(t, r.stdout, "hr:2", "int16")[cols["ABCD"]]; got != "4660" {
		t.Errorf("int16 at hr:2 = %q, want 4660\n%s", got, r.stdout)
	}
	if got := probeRow(t, r.stdout, "hr:2", "bcd16")[cols["ABCD"]]; got != "1234" {
		t.Errorf("bcd16 at hr:2 = %q, want 1234\n%s", got, r.stdout)
	}
	for _, s := range []string{fmt.Sprintf("0x%04X", lo), fmt.Sprintf("0x%04X", hi), "0x1234", "fc3", `AB"`} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("probe output lacks %q\n%s", s, r.stdout)
		}
	}
}

// TestCLIProbeModbusFailures: a device that does not answer or refuses is a
// runtime failure (exit 2) with a message saying what was read.
func TestCLIProbeModbusFailures(t *testing.T) {
	t.Parallel()
	addr := startProbePeer(t, map[uint16]uint16{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"refused", []string{"--address", closed, "--timeout", "500ms"}, "fc3"},
		{"exception", []string{"--address", addr, "--unit", "9", "--timeout", "500ms"}, "hr:0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, "", append([]string{"probe", "modbus"}, c.args...)...)
			if r.code != exitRuntime || !strings.Contains(r.stderr, c.want) {
				t.Errorf("want exit 2 and %q on stderr\n%s", c.want, r)
			}
		})
	}
}

// probeColumns maps the order names of the decodings table header to their
// field index in a row (the address takes two fields: "hr:0 (400001)").
func probeColumns(t *testing.T, out string) map[string]int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 6 && f[0] == "address" && f[1] == "type" {
			cols := map[string]int{}
			for i, name := range f[2:] {
				cols[name] = i + 3
			}
			return cols
		}
	}
	t.Fatalf("no `address type ABCD ...` header in\n%s", out)
	return nil
}

func probeRow(t *testing.T, out, addr, typ string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 7 && f[0] == addr && f[2] == typ {
			return f
		}
	}
	t.Fatalf("no %s %s row in\n%s", addr, typ, out)
	return nil
}
