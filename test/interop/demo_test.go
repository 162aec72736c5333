package interop

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDemoNodeOPCUA: the built-in demo served by the real binary, driven by
// node-opcua: browse finds the demo tags, reads are Good with timestamps, a
// 1 s subscription delivers changes, a write to the setpoint sticks, an
// anonymous write is refused.
func TestDemoNodeOPCUA(t *testing.T) {
	requireInterop(t)
	gw := startGateway(t, t.TempDir(), "--listen", "127.0.0.1:0")
	exp, _ := json.Marshal(map[string]any{
		"minTags":  20,
		"changing": "ns=1;s=Line1/Press1/RamPosition",
		"setpoint": "ns=1;s=Line1/Press1/Hydraulics/PressureSetpoint",
		"user":     "operator",
		"password": "operator",
		"dataType": "Float",
		"value":    123.5,
	})
	res := node(t, 60*time.Second, "demo.js", gw.Endpoint, string(exp))
	t.Logf("node-opcua: %v", res)
}
