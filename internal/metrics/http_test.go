package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/internal/metrics"
)

func TestReadyz(t *testing.T) {
	t.Parallel()
	up := metrics.DeviceStatus{Name: "press3", State: "up", Connected: true}
	down := metrics.DeviceStatus{Name: "oven", State: "down", LastError: "modbus oven: read hr:0 x2 (fc3): i/o timeout"}
	demoted := metrics.DeviceStatus{Name: "robot", State: "demoted", Demoted: true}
	yes := func() bool { return true }
	no := func() bool { return false }
	devices := func(d ...metrics.DeviceStatus) metrics.DeviceStatusProvider {
		return metrics.DeviceStatusFunc(func() []metrics.DeviceStatus { return d })
	}
	tests := []struct {
		name     string
		checks   *metrics.ReadyChecks // nil: Handler(nil)
		code     int
		problems []string
	}{
		{"no check", nil, http.StatusOK, []string{}},
		{"all ready, one device down is fine", &metrics.ReadyChecks{ConfigLoaded: yes, OPCUAListening: yes, Devices: devices(up, down)}, http.StatusOK, []string{}},
		{"config not loaded", &metrics.ReadyChecks{ConfigLoaded: no, OPCUAListening: yes, Devices: devices(up)}, http.StatusServiceUnavailable,
			[]string{"config not loaded"}},
		{"opc ua not listening", &metrics.ReadyChecks{ConfigLoaded: yes, OPCUAListening: no, Devices: devices(up)}, http.StatusServiceUnavailable,
			[]string{"opc ua server not listening"}},
		{"no device reachable", &metrics.ReadyChecks{ConfigLoaded: yes, OPCUAListening: yes, Devices: devices(down, demoted)}, http.StatusServiceUnavailable,
			[]string{"no device reachable", "device oven: down: modbus oven: read hr:0 x2 (fc3): i/o timeout", "device robot: demoted"}},
		{"no devices", &metrics.ReadyChecks{ConfigLoaded: yes, OPCUAListening: yes, Devices: devices()}, http.StatusServiceUnavailable,
			[]string{"no devices configured"}},
		{"everything wrong", &metrics.ReadyChecks{ConfigLoaded: no, OPCUAListening: no, Devices: devices(down)}, http.StatusServiceUnavailable,
			[]string{"config not loaded", "opc ua server not listening", "no device reachable", "device oven: down: modbus oven: read hr:0 x2 (fc3): i/o timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ready func() (bool, []string)
			if tt.checks != nil {
				ready = metrics.Readiness(*tt.checks)
			}
			code, body := scrape(t, metrics.New(metrics.BuildInfo{}).Handler(ready), http.MethodGet, "/readyz")
			var got struct {
				Ready    *bool     `json:"ready"`
				Problems *[]string `json:"problems"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || got.Ready == nil || got.Problems == nil {
				t.Fatalf("body %q: not {ready, problems} JSON: %v", body, err)
			}
			if code != tt.code || *got.Ready != (tt.code == http.StatusOK) || !reflect.DeepEqual(*got.Problems, tt.problems) {
				t.Errorf("got %d %s, want %d problems %q", code, body, tt.code, tt.problems)
			}
		})
	}
}

func TestServeAndShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)
	m := metrics.New(metrics.BuildInfo{Version: "1.0.0"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := metrics.Serve(ctx, "127.0.0.1:0", m.Handler(nil), nil)
	if err != nil {
		t.Fatal(err)
	}

	// The same address is taken: a clear error, not a silent second server.
	if _, err := metrics.Serve(ctx, addr.String(), m.Handler(nil), nil); err == nil || !strings.Contains(err.Error(), addr.String()) {
		t.Errorf("second Serve on %s: err %v, want an error naming the address", addr, err)
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for path, want := range map[string]string{"/healthz": "ok\n", "/metrics": `tagbridge_build_info{commit="",goversion="",version="1.0.0"} 1`} {
		resp, err := client.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}

	cancel()
	// The port closes once shutdown is done; bounded wait, no timing asserted.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Logf("dial after shutdown: %v", err)
			}
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("metrics listener still accepting 10 s after ctx was cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeBadAddress(t *testing.T) {
	t.Parallel()
	if _, err := metrics.Serve(context.Background(), "127.0.0.1:notaport", http.NotFoundHandler(), nil); err == nil {
		t.Error("Serve on a bad address: no error")
	}
}
