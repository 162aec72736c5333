package modbus

import (
	"context"
	"testing"

	sv "github.com/simonvetter/modbus"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/drivertest"
	"github.com/tagbridge/tagbridge/internal/mbtest"
)

// TestConformance runs the drivers' conformance suite against the
// in-process simonvetter server. It is not parallel: the suite's goroutine
// leak check needs the process to itself.
func TestConformance(t *testing.T) {
	s := mbtest.Start(t)
	s.SetHR(1, 0, 10, 20, 0x4048, 0xF5C3) // uint16, int16, float32 3.14
	s.SetIR(1, 0, 30)
	s.SetCoils(1, 0, true)
	s.SetDI(1, 0, true)
	s.Illegal(1000)
	s.Fail(2000, sv.ErrServerDeviceFailure)
	hole := mbtest.StartBlackHole(t)
	drv := NewDriver()
	open := func(addr, timeout string) drivertest.OpenFunc {
		return func(t *testing.T) (drivers.Device, []drivers.Address) {
			d, err := drv.Open(context.Background(), "conf", map[string]any{
				"transport": "tcp", "address": addr, "timeout": timeout, "max_gap": 0,
			})
			if err != nil {
				t.Fatal(err)
			}
			return d, []drivers.Address{
				addr0("hr:0", drivers.Uint16), addr0("40002", drivers.Int16), addr0("hr:2", drivers.Float32),
				addr0("ir:0", drivers.Uint16), addr0("coil:0", drivers.Bool), addr0("di:0", drivers.Bool),
			}
		}
	}
	drivertest.Suite{
		Open:     open(s.Addr, "1s"),
		OpenSlow: open(hole.Addr, "2s"),
		Bad:      []drivers.Address{addr0("hr:1000", drivers.Uint16), addr0("hr:2000", drivers.Int32), addr0("coil:0", drivers.Float32)},
		Writes: []drivertest.Write{
			{Addr: addr0("hr:100", drivers.Uint16), Value: uint16(4711)},
			{Addr: addr0("hr:102", drivers.Float64), Value: float64(-1.5)},
			{Addr: addr0("coil:100", drivers.Bool), Value: true},
			{Addr: addr0("hr:104.7", drivers.Bool), Value: true},
		},
		ReadOnly: []drivers.Address{addr0("ir:0", drivers.Uint16), addr0("di:0", drivers.Bool)},
	}.Run(t)
}

func addr0(a string, typ drivers.Type) drivers.Address {
	return drivers.Address{Tag: a, Addr: a, Type: typ}
}
