package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startJSModbus runs modbus_peer.js (a jsmodbus@5.0.0 TCP server on
// 127.0.0.1:0) until the end of the test and returns its port.
func startJSModbus(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("node", "modbus_peer.js")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start modbus_peer.js: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-first:
		var res struct{ Port int }
		if !ok || json.Unmarshal([]byte(line), &res) != nil || res.Port == 0 {
			t.Fatalf("modbus_peer.js: no port (got %q)\n%s", line, logs.String())
		}
		return res.Port
	case <-time.After(15 * time.Second):
		t.Fatalf("modbus_peer.js did not listen within 15s\n%s", logs.String())
	}
	return 0
}

const jsmodbusConfig = `
gateway: { name: interop-modbus }
opcua:
  application_uri: urn:tagbridge:interop-modbus
  security: [none]
  anonymous: read
  users: [ { name: operator, password_hash: "%s", role: write } ]
devices:
  - name: js
    driver: modbus
    scan: 200ms
    folder: JS
    backoff_min: 100ms
    backoff_max: 500ms
    options: { transport: tcp, address: "127.0.0.1:%d", unit_id: 1, timeout: 500ms, reconnect_min: 50ms, reconnect_max: 500ms }
    tags:
%s`

const jsmodbusTags = `
      - { name: Temperature, address: "40001",  type: float32, unit: degC }
      - { name: Pressure,    address: "hr:2",   type: int16, scale: { gain: 0.1, offset: 0 } }
      - { name: Count,       address: "hr:3",   type: uint32, byte_order: CDAB }
      - { name: Name,        address: "hr:5",   type: string, length: 8 }
      - { name: Bit0,        address: "40011.0", type: bool }
      - { name: Bit1,        address: "hr:10.1", type: bool }
      - { name: Setpoint,    address: "hr:20",  type: float32, access: readwrite }
      - { name: Recipe,      address: "hr:22",  type: uint16, access: readwrite }
      - { name: Speed,       address: "30001",  type: uint16 }
      - { name: Flow,        address: "ir:1",   type: float32 }
      - { name: Running,     address: "00001",  type: bool }
      - { name: Door,        address: "coil:1", type: bool }
      - { name: Lamp,        address: "coil:2", type: bool }
      - { name: Enable,      address: "coil:10", type: bool, access: readwrite }
      - { name: Guard,       address: "10001",  type: bool }
      - { name: Missing,     address: "hr:500", type: uint16 }
`

// TestModbusJSModbus: the real binary polls an independent Modbus TCP server
// (jsmodbus) and node-opcua reads the engineering values; a tag past the
// server's memory (which jsmodbus answers with an empty normal response
// instead of exception 2) goes Bad on its own; writes from node-opcua reach
// the server, as an independent master (mbpoll) confirms.
func TestModbusJSModbus(t *testing.T) {
	requireInterop(t)
	port := startJSModbus(t)
	gw := startJSModbusGateway(t, port, jsmodbusTags)

	want := map[string]any{
		"JS/Temperature": 21.5, "JS/Pressure": -50.0, "JS/Count": 123456789.0, "JS/Name": "JSMODBUS",
		"JS/Bit0": true, "JS/Bit1": false, "JS/Setpoint": 1.0, "JS/Recipe": 0.0,
		"JS/Speed": 4321.0, "JS/Flow": -3.25, "JS/Running": true, "JS/Door": false, "JS/Lamp": true,
		"JS/Enable": false, "JS/Guard": true,
	}
	var good []string
	for p := range want {
		good = append(good, p)
	}
	spec, _ := json.Marshal(map[string]any{
		"namespace": "urn:tagbridge:interop-modbus",
		"paths":     append([]string{"JS/Missing"}, good...),
		"good":      good,
		"user":      "operator", "password": "secret",
		"writes": []map[string]any{
			{"path": "JS/Setpoint", "dataType": "Float", "value": 42.5},
			{"path": "JS/Recipe", "dataType": "UInt16", "value": 4711},
			{"path": "JS/Enable", "dataType": "Boolean", "value": true},
		},
	})
	res := node(t, 90*time.Second, "modbus_client.js", gw.Endpoint, string(spec))
	t.Logf("node-opcua: %v", res)

	type dv struct {
		Value          any
		Status         string
		Source, Server string
	}
	var out struct {
		Read   map[string]dv
		Writes map[string]string
		After  map[string]dv
	}
	b, _ := json.Marshal(res)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for p, w := range want {
		got := out.Read[p]
		if got.Status != "Good" || got.Value != w {
			t.Errorf("%s = %v (%s), want %v Good", p, got.Value, got.Status, w)
		}
		if got.Source == "" || got.Server == "" {
			t.Errorf("%s: source %q server %q, want both timestamps", p, got.Source, got.Server)
		}
	}
	// jsmodbus answers the read of hr:500 with zero registers: the tag must
	// be Bad (with no value), not a panic and not a made-up zero.
	if m := out.Read["JS/Missing"]; !strings.HasPrefix(m.Status, "Bad") || m.Value != nil {
		t.Errorf("JS/Missing (past the server's memory) = %v (%s), want Bad without a value", m.Value, m.Status)
	} else {
		t.Logf("JS/Missing: %s", m.Status)
	}

	for p, st := range out.Writes {
		if st != "Good" {
			t.Errorf("write %s: %s", p, st)
		}
	}
	for _, w := range []struct {
		path string
		v    any
	}{{"JS/Setpoint", 42.5}, {"JS/Recipe", 4711.0}, {"JS/Enable", true}} {
		if got := out.After[w.path]; got.Status != "Good" || got.Value != w.v {
			t.Errorf("read back %s = %v (%s), want %v", w.path, got.Value, got.Status, w.v)
		}
	}

	// An independent master reads what the server holds now.
	if _, err := exec.LookPath("mbpoll"); err != nil {
		t.Skip("mbpoll not installed (make deps-apt): the server side of the writes is not checked")
	}
	if got := mbpoll(t, port, "4:float", 20); math.Abs(got-42.5) > 1e-6 {
		t.Errorf("mbpoll hr:20 float32 = %v, want 42.5", got)
	}
	if got := mbpoll(t, port, "4", 22); got != 4711 {
		t.Errorf("mbpoll hr:22 = %v, want 4711", got)
	}
	if got := mbpoll(t, port, "0", 10); got != 1 {
		t.Errorf("mbpoll coil:10 = %v, want 1", got)
	}
}

// startJSModbusGateway runs the real binary on a config polling the
// jsmodbus peer at port with tags (YAML list items).
func startJSModbusGateway(t *testing.T, port int, tags string) *gateway {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tagbridge.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jsmodbusConfig, hash, port, tags), 0o600); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, dir, "--config", cfg, "--listen", "127.0.0.1:0")
}

// TestModbusJSModbusShortReplyFirst: the same jsmodbus quirk (an empty
// normal response for registers it does not have), on a tag whose request
// comes early in the scan (input registers are read before holding
// registers). Only that tag may go Bad: the holding registers read after it
// must stay Good, as with exception 2.
func TestModbusJSModbusShortReplyFirst(t *testing.T) {
	requireInterop(t)
	port := startJSModbus(t)
	gw := startJSModbusGateway(t, port, `
      - { name: Missing,     address: "ir:300", type: uint16 }
      - { name: Temperature, address: "40001",  type: float32 }
      - { name: Name,        address: "hr:5",   type: string, length: 8 }
      - { name: Running,     address: "00001",  type: bool }
`)
	good := []string{"JS/Temperature", "JS/Name", "JS/Running"}
	spec, _ := json.Marshal(map[string]any{
		"namespace": "urn:tagbridge:interop-modbus",
		"paths":     append([]string{"JS/Missing"}, good...),
		"good":      good,
	})
	res := node(t, 60*time.Second, "modbus_client.js", gw.Endpoint, string(spec))
	read, _ := res["read"].(map[string]any)
	want := map[string]any{"JS/Temperature": 21.5, "JS/Name": "JSMODBUS", "JS/Running": true}
	for p, w := range want {
		got, _ := read[p].(map[string]any)
		if got["status"] != "Good" || got["value"] != w {
			t.Errorf("%s = %v (%v), want %v Good: a short reply on another request must not fail this one", p, got["value"], got["status"], w)
		}
	}
	m, _ := read["JS/Missing"].(map[string]any)
	if s, _ := m["status"].(string); !strings.HasPrefix(s, "Bad") || m["value"] != nil {
		t.Errorf("JS/Missing (past the server's memory) = %v (%v), want Bad without a value", m["value"], m["status"])
	}
}

var mbpollValue = regexp.MustCompile(`(?m)^\[(\d+)\]:\s+(\S+)`)

// mbpoll reads one value at PDU address ref (-0) of table typ once with the
// Debian mbpoll master, big-endian words (-B), and returns it.
func mbpoll(t *testing.T, port int, typ string, ref int) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := []string{"-m", "tcp", "-p", strconv.Itoa(port), "-a", "1", "-0", "-1", "-B", "-t", typ,
		"-r", strconv.Itoa(ref), "-c", "1", "127.0.0.1"}
	out, err := exec.CommandContext(ctx, "mbpoll", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := mbpollValue.FindSubmatch(out)
	if m == nil || string(m[1]) != strconv.Itoa(ref) {
		t.Fatalf("mbpoll %s: no value for [%d] in\n%s", strings.Join(args, " "), ref, out)
	}
	v, err := strconv.ParseFloat(string(m[2]), 64)
	if err != nil {
		t.Fatalf("mbpoll: value %q: %v", m[2], err)
	}
	return v
}
