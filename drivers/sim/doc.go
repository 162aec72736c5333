// Package sim is the simulator driver: waves, counters, constants, writable
// memory and injected faults, for the demo, for tests of the layers above
// the drivers, and for commissioning SCADA screens without a PLC. It
// registers itself as "sim". The address syntax is documented in docs/sim.md.
//
// It imports only drivers and the standard library. It never imports
// mapping, config, internal/* or another driver.
package sim
