// Package mbtest holds Modbus test peers for the tests of the modbus driver
// and of the gateway: an in-process TCP server (simonvetter/modbus's server)
// over a register map the test controls, with counting registers and
// restarts on the same port; a TCP proxy that counts connections and can
// turn into a black hole; a black-hole listener; a hand-written responder
// whose answers the test can spoil; and a serial peer (a socat pty pair with
// Debian's python3-pymodbus responder on the far end).
//
// It is test support: only _test.go files may import it. It imports
// simonvetter/modbus and the standard library only, never the driver or
// the gateway it tests.
package mbtest
