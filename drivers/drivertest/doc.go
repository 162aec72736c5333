// Package drivertest is the conformance suite that every Tagbridge driver
// (drivers/sim, drivers/modbus, drivers/mtconnect, ...) must pass. A driver's
// own tests call Run, or Suite.Run for the checks that need the harness's
// help, with a function that opens a device against the driver's test peer:
//
//	func TestConformance(t *testing.T) {
//		srv := startTestServer(t) // 127.0.0.1:0, started before the suite
//		drivertest.Suite{
//			Open: func(t *testing.T) (drivers.Device, []drivers.Address) {
//				dev, err := Driver{}.Open(t.Context(), "plc1", map[string]any{"address": srv.Addr()})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return dev, []drivers.Address{{Tag: "T", Addr: "40001", Type: drivers.Int16}}
//			},
//			Bad:      []drivers.Address{{Tag: "X", Addr: "49999", Type: drivers.Int16}}, // exception 2
//			Writes:   []drivertest.Write{{Addr: drivers.Address{Addr: "40002", Type: drivers.Uint16}, Value: uint16(7)}},
//			ReadOnly: []drivers.Address{{Addr: "30001", Type: drivers.Int16}},
//			OpenSlow: openAgainstASilentPeer,
//		}.Run(t)
//	}
//
// Every subtest opens its own device. The subtests run sequentially and
// the calling test must not use t.Parallel: the last subtest checks with
// goleak that no goroutine started by the driver outlives Close.
//
// It imports drivers, testing and go.uber.org/goleak only. It never imports
// a concrete driver, mapping, config or internal/*.
package drivertest
