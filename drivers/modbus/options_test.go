package modbus

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	o, err := parseOptions(map[string]any{"address": "10.0.0.5:502"})
	if err != nil {
		t.Fatal(err)
	}
	if o.transport != "tcp" || o.unit != 1 || o.timeout != time.Second || o.order != ABCD ||
		o.limits != DefaultLimits() || o.nan != "bad" || o.timeoutsBeforeReconnect != 3 || o.forceMulti {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseOptions(map[string]any{"transport": "rtu", "port": "/dev/ttyUSB0", "baud": "9600", "parity": "even",
		"stop_bits": 2, "data_bits": 7.0, "unit_id": int64(17), "inter_request_delay": "20ms", "force_multiple_writes": "true",
		"byte_order": "CDAB", "max_registers": 60, "max_bits": 800, "max_gap": 0, "nan": "keep"})
	if err != nil {
		t.Fatal(err)
	}
	want := serialSettings{port: "/dev/ttyUSB0", baud: 9600, dataBits: 7, parity: "E", stopBits: 2}
	if o.serial != want || o.unit != 17 || o.delay != 20*time.Millisecond || !o.forceMulti || o.order != CDAB ||
		o.limits != (Limits{MaxRegisters: 60, MaxBits: 800, MaxGap: 0}) || o.nan != "keep" {
		t.Errorf("parsed: %+v", o)
	}
	if o.linkKey() != "serial /dev/ttyUSB0" {
		t.Errorf("link key %q", o.linkKey())
	}
}

func TestOptionsErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		opts map[string]any
		key  string
	}{
		{map[string]any{"address": "h:1", "bogus": 1}, `"bogus"`},
		{map[string]any{"address": "h:1", "transport": "can"}, `"transport"`},
		{map[string]any{"address": "h:1", "unit_id": "one"}, `"unit_id"`},
		{map[string]any{"address": "h:1", "unit_id": 300}, `"unit_id"`},
		{map[string]any{"address": "h:1", "unit_id": 250}, `"unit_id"`},
		{map[string]any{"transport": "rtu", "port": "/dev/x", "unit_id": 0}, `"unit_id"`},
		{map[string]any{"transport": "rtu_over_tcp", "address": "h:1", "unit_id": 255}, `"unit_id"`},
		{map[string]any{"address": "h:1", "timeout": 5}, `"timeout"`},
		{map[string]any{"address": "h:1", "timeout": "fast"}, `"timeout"`},
		{map[string]any{"address": "h:1", "byte_order": "ABDC"}, `"byte_order"`},
		{map[string]any{"address": "h:1", "max_registers": 126}, `"max_registers"`},
		{map[string]any{"address": "h:1", "max_bits": 2001}, `"max_bits"`},
		{map[string]any{"address": "h:1", "max_gap": -1}, `"max_gap"`},
		{map[string]any{"address": "h:1", "force_multiple_writes": "maybe"}, `"force_multiple_writes"`},
		{map[string]any{"address": "h:1", "nan": "drop"}, `"nan"`},
		{map[string]any{"address": "h:1", "baud": 9600}, `"baud"`},
		{map[string]any{"address": "h:1", "cert": "c.pem"}, `"cert"`},
		{map[string]any{"address": "nohost"}, `"address"`},
		{map[string]any{}, `"address"`},
		{map[string]any{"transport": "rtu"}, `"port"`},
		{map[string]any{"transport": "rtu", "port": "/dev/x", "address": "h:1"}, `"address"`},
		{map[string]any{"transport": "rtu", "port": "/dev/x", "parity": "X"}, `"parity"`},
		{map[string]any{"transport": "rtu", "port": "/dev/x", "stop_bits": 3}, `"stop_bits"`},
		{map[string]any{"transport": "tls", "address": "h:1"}, `"cert"`},
		{map[string]any{"transport": "tls", "address": "h:1", "cert": "/nope/c.pem", "key": "/nope/k.pem", "ca": "/nope/ca.pem"}, "/nope/ca.pem"},
		{map[string]any{"address": "h:1", "reconnect_min": "2s", "reconnect_max": "1s"}, `"reconnect_max"`},
	}
	for _, c := range cases {
		_, err := parseOptions(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("parseOptions(%v): %v, want an error naming %s", c.opts, err, c.key)
		}
	}
}

func TestOpenIsLazyAndNamesDevice(t *testing.T) {
	t.Parallel()
	drv := NewDriver()
	// Nothing listens on port 1: Open must not notice.
	d, err := drv.Open(context.Background(), "press3", map[string]any{"address": "127.0.0.1:1"})
	if err != nil {
		t.Fatalf("Open dialled or failed: %v", err)
	}
	if st := drv.LinkStats(); len(st) != 1 || st[0].Connected || st[0].Requests != 0 {
		t.Errorf("stats after Open: %+v", st)
	}
	_ = d.Close()
	if st := drv.LinkStats(); len(st) != 0 {
		t.Errorf("the last Close left the link open: %+v", st)
	}
	_, err = drv.Open(context.Background(), "press3", map[string]any{"address": "127.0.0.1:1", "typo": 1})
	if err == nil || !strings.HasPrefix(err.Error(), "modbus press3: ") {
		t.Errorf("Open error %v, want it prefixed with the device", err)
	}
}

func FuzzOptions(f *testing.F) {
	f.Add("transport", "rtu", "port", "/dev/ttyUSB0", "baud", "19200")
	f.Add("address", "127.0.0.1:502", "timeout", "1s", "unit_id", "255")
	f.Add("transport", "tls", "cert", "x", "key", "")
	f.Add("parity", "Odd", "stop_bits", "2", "max_gap", "-3")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		o, err := parseOptions(map[string]any{k1: v1, k2: v2, k3: v3})
		if err != nil {
			return
		}
		if err := o.limits.Validate(); err != nil {
			t.Errorf("accepted limits fail validation: %v", err)
		}
		if o.timeout <= 0 || (o.isSerial() && o.serial.port == "") || (!o.isSerial() && o.address == "") {
			t.Errorf("accepted options are unusable: %+v", o)
		}
	})
}
