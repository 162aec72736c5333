// Package mbtest holds Modbus test peers for the modbus driver's tests: an
// in-process TCP server (simonvetter/modbus's server) over a register map
// the test controls, a black-hole listener, and a serial peer (a socat pty
// pair with Debian's python3-pymodbus responder on the far end).
//
// It imports simonvetter/modbus and the standard library only, never the
// driver it tests.
package mbtest
