package modbus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// The serial peer is Debian's python3-pymodbus on the far end of a socat pty
// pair (testdata/serial_responder.py): unit u holds hr[i] = u*1000+i,
// ir[i] = u*1000+500+i, coil[i] = i%2 == 0, di[i] = i%3 == 0 for i < 100.
const responder = "testdata/serial_responder.py"

func serialOpts(transport, port string, unit int, kv ...any) map[string]any {
	m := map[string]any{
		"transport": transport, "port": port, "baud": 19200, "parity": "N", "stop_bits": 1,
		"unit_id": unit, "timeout": "1500ms", "reconnect_min": "20ms", "reconnect_max": "200ms",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// readUntilGood reads until every sample is Good (bounded), for the first
// read after a peer started or after noise on the line.
func readUntilGood(t *testing.T, d *Device, addrs []drivers.Address) []drivers.Sample {
	t.Helper()
	var last error
	for i := 0; i < 40; i++ {
		out, err := read(t, d, addrs)
		good := err == nil
		for _, s := range out {
			good = good && s.Quality == drivers.Good
		}
		if good {
			return out
		}
		last = err
		if err == nil {
			for _, s := range out {
				if s.Err != nil {
					last = s.Err
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no good read: %v", d.name, last)
	return nil
}

func TestSerialTransports(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"rtu", "ascii"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			peer := mbtest.StartSerial(t, responder, mode, 7, 8)
			drv := NewDriver()
			d7 := openDev(t, drv, "u7", serialOpts(mode, peer.Port, 7))
			d8 := openDev(t, drv, "u8", serialOpts(mode, peer.Port, 8))
			if st := drv.LinkStats(); len(st) != 1 || st[0].Devices != 2 {
				t.Fatalf("link stats %+v, want one shared serial link", st)
			}
			addrs := []drivers.Address{
				addr("hr:0", drivers.Uint16), addr("40003", drivers.Uint16), addr("ir:1", drivers.Uint16),
				addr("coil:0", drivers.Bool), addr("coil:1", drivers.Bool), addr("di:3", drivers.Bool), addr("di:4", drivers.Bool),
			}
			for _, c := range []struct {
				d    *Device
				base uint16
			}{{d7, 7000}, {d8, 8000}} {
				out := readUntilGood(t, c.d, addrs)
				want := []any{c.base, c.base + 2, c.base + 501, true, false, true, false}
				for i, w := range want {
					if out[i].Value != w {
						t.Errorf("%s %s = %v, want %v", c.d.name, addrs[i].Addr, out[i].Value, w)
					}
				}
			}

			// Exception 2 from a real device: address 100 does not exist.
			out, err := read(t, d7, []drivers.Address{addr("hr:99", drivers.Uint16), addr("hr:100", drivers.Uint16)})
			if err != nil {
				t.Fatalf("read with a bad address: %v", err)
			}
			if out[0].Quality != drivers.Good || out[1].Quality != drivers.BadConfigurationError {
				t.Errorf("hr:99 %v, hr:100 %v (%v): want Good and BadConfigurationError", out[0].Quality, out[1].Quality, out[1].Err)
			}

			// Writes: FC6, FC16, FC5, and a register bit.
			for _, w := range []struct {
				a drivers.Address
				v any
			}{
				{addr("hr:50", drivers.Uint16), uint16(4242)},
				{addr("hr:60", drivers.Float32), float32(-2.25)},
				{addr("coil:10", drivers.Bool), false},
				{addr("hr:70.15", drivers.Bool), true},
			} {
				if err := d8.Write(t.Context(), w.a, w.v); err != nil {
					t.Errorf("write %s: %v", w.a.Addr, err)
					continue
				}
				out := readUntilGood(t, d8, []drivers.Address{w.a})
				if out[0].Value != w.v {
					t.Errorf("read back %s = %v, want %v", w.a.Addr, out[0].Value, w.v)
				}
			}
			out = readUntilGood(t, d8, []drivers.Address{addr("hr:70", drivers.Uint16)})
			if out[0].Value != uint16(8070|0x8000) {
				t.Errorf("hr:70 after setting bit 15 = %#x, want %#x", out[0].Value, 8070|0x8000)
			}

			// Noise on the line: the driver recovers by itself.
			if err := peer.Inject([]byte("\x00\xff\x13garbage:zz\r\n\x01\x03\x02")); err != nil {
				t.Fatalf("inject: %v", err)
			}
			readUntilGood(t, d7, addrs[:3])
			readUntilGood(t, d8, addrs[:3])
			t.Logf("link after noise: %+v", drv.LinkStats()[0])
		})
	}
}

func TestRTUSilentUnitIsBackedOff(t *testing.T) {
	t.Parallel()
	peer := mbtest.StartSerial(t, responder, "rtu", 7)
	drv := NewDriver()
	alive := openDev(t, drv, "alive", serialOpts("rtu", peer.Port, 7))
	silent := openDev(t, drv, "silent", serialOpts("rtu", peer.Port, 9, "timeouts_before_reconnect", 100))
	addrs := []drivers.Address{addr("hr:0", drivers.Uint16)}
	readUntilGood(t, alive, addrs)

	_, err := read(t, silent, addrs)
	if !errors.Is(err, errTimeout) {
		t.Fatalf("silent unit: %v, want a timeout", err)
	}
	// Right after, the silent unit is skipped without using the line...
	before := drv.LinkStats()[0].Requests
	_, err = read(t, silent, addrs)
	if !errors.Is(err, errUnitBackedOff) {
		t.Errorf("silent unit again: %v, want it backed off", err)
	}
	if after := drv.LinkStats()[0].Requests; after != before {
		t.Errorf("a backed-off unit reached the wire (%d -> %d requests)", before, after)
	}
	// ...while the other unit keeps reading.
	out, err := read(t, alive, addrs)
	if err != nil || out[0].Value != uint16(7000) {
		t.Errorf("alive unit during the backoff: %v %v", err, out[0])
	}
	if st := drv.LinkStats()[0]; st.UnitBackoffs < 1 || st.Timeouts < 1 {
		t.Errorf("link stats %+v, want a timeout and a unit backoff counted", st)
	}
}

func TestRTUOverTCP(t *testing.T) {
	t.Parallel()
	peer := mbtest.StartSerial(t, responder, "rtu", 7)
	gw := peer.Bridge(t)
	d := openDev(t, nil, "gw", map[string]any{"transport": "rtu_over_tcp", "address": gw, "unit_id": 7, "timeout": "500ms", "baud": 19200})
	out := readUntilGood(t, d, []drivers.Address{addr("hr:5", drivers.Uint16), addr("ir:5", drivers.Uint16)})
	if out[0].Value != uint16(7005) || out[1].Value != uint16(7505) {
		t.Errorf("got %v %v, want 7005 7505", out[0].Value, out[1].Value)
	}
}

func TestSerialSettingsConflict(t *testing.T) {
	t.Parallel()
	drv := NewDriver()
	openDev(t, drv, "first", serialOpts("rtu", "/dev/ttyNOPE0", 1))
	for _, c := range []map[string]any{
		serialOpts("rtu", "/dev/ttyNOPE0", 2, "baud", 9600),
		serialOpts("rtu", "/dev/ttyNOPE0", 2, "parity", "E"),
		serialOpts("ascii", "/dev/ttyNOPE0", 2),
	} {
		d, err := drv.Open(t.Context(), "second", c)
		if err == nil {
			_ = d.Close()
			t.Errorf("Open(%v) on a port in use with other settings: no error", c)
			continue
		}
		if !contains(err.Error(), `"first"`) || !contains(err.Error(), "second") {
			t.Errorf("conflict error %q should name both devices", err)
		}
	}
	// Same settings, other unit: shares the port.
	openDev(t, drv, "third", serialOpts("rtu", "/dev/ttyNOPE0", 3))
	if st := drv.LinkStats(); len(st) != 1 || st[0].Devices != 2 {
		t.Errorf("link stats %+v", st)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
