// Package modbus is the Modbus client driver (registered as "modbus"): TCP,
// RTU, ASCII, RTU-over-TCP, UDP and TLS transports; Modicon and zero-based
// PDU addresses; exact codecs for every type and byte/word order; a request
// planner that merges tags into the fewest requests and isolates bad
// addresses; and one arbiter goroutine per physical link, shared by every
// device on that link (a serial port or a TCP->RTU gateway).
//
// It imports drivers and its protocol libraries (simonvetter/modbus for
// everything but ASCII, goburrow/modbus for ASCII), never mapping, config,
// internal/* or another driver.
package modbus
