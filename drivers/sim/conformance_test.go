package sim_test

import (
	"context"
	"math"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/drivertest"
	_ "github.com/tagbridge/tagbridge/drivers/sim"
)

var allTypes = []drivers.Type{
	drivers.Bool, drivers.Int16, drivers.Uint16, drivers.Int32, drivers.Uint32, drivers.Int64,
	drivers.Uint64, drivers.Float32, drivers.Float64, drivers.String, drivers.BCD16, drivers.BCD32,
}

func addr(s string, t drivers.Type) drivers.Address {
	return drivers.Address{Tag: "T/" + s + "/" + t.String(), Addr: s, Type: t}
}

func constLit(t drivers.Type) string {
	switch t {
	case drivers.Bool:
		return "const:true"
	case drivers.String:
		return "const:hello"
	}
	return "const:42"
}

// openSim opens a sim device through the registry, as the scheduler does.
func openSim(t *testing.T, opts map[string]any) drivers.Device {
	t.Helper()
	drv, err := drivers.Lookup("sim")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := drv.Open(context.Background(), "sim1", opts)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

func TestConformance(t *testing.T) {
	var all, static []drivers.Address
	for _, typ := range allTypes {
		for _, s := range []string{"sine:period=10s,amplitude=50,offset=20", "ramp", "random:min=0,max=10",
			"counter", "square:period=4s", "memory:" + typ.String()} {
			all = append(all, addr(s, typ))
		}
		static = append(static, addr(constLit(typ), typ), addr("memory:"+typ.String()+"=1", typ))
		all = append(all, addr(constLit(typ), typ))
	}
	static = append(static, addr("bad:BadDeviceFailure", drivers.Float64), addr("nope", drivers.Int16))
	drivertest.Suite{
		Open: func(t *testing.T) (drivers.Device, []drivers.Address) { return openSim(t, nil), all },
		Bad: []drivers.Address{
			addr("bad:BadDeviceFailure", drivers.Float64),
			addr("bad:BadSensorFailure", drivers.String),
			addr("nope:1", drivers.Int16),
			addr("memory:int16", drivers.Float32),
			addr("sine:perod=1s", drivers.Float64),
		},
		Static: static,
		Writes: []drivertest.Write{
			{Addr: addr("memory:float32", drivers.Float32), Value: float32(3.5)},
			{Addr: addr("memory:float64=1", drivers.Float64), Value: -2.25},
			{Addr: addr("memory:string", drivers.String), Value: "hi"},
			{Addr: addr("memory:bool", drivers.Bool), Value: true},
			{Addr: addr("memory:int16", drivers.Int16), Value: int16(-7)},
			{Addr: addr("memory:int64", drivers.Int64), Value: int64(math.MinInt64)},
			{Addr: addr("memory:uint64", drivers.Uint64), Value: uint64(math.MaxUint64)},
			{Addr: addr("memory:bcd16", drivers.BCD16), Value: uint16(1234)},
		},
		ReadOnly: []drivers.Address{
			addr("sine", drivers.Float64), addr("const:1", drivers.Int16), addr("bad:BadDeviceFailure", drivers.Bool),
		},
		OpenSlow: func(t *testing.T) (drivers.Device, []drivers.Address) {
			return openSim(t, map[string]any{"latency": "1h"}), all[:3]
		},
	}.Run(t)
}

// TestConformanceMinimal is the smallest use of the suite, as a new driver
// would start.
func TestConformanceMinimal(t *testing.T) {
	drivertest.Run(t, func(t *testing.T) (drivers.Device, []drivers.Address) {
		return openSim(t, map[string]any{"seed": 3}), []drivers.Address{addr("const:1.5", drivers.Float64), addr("memory:int32=9", drivers.Int32)}
	})
}
