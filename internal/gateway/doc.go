// Package gateway assembles a running Tagbridge from a config: it compiles the
// tag table, starts the scheduler and the OPC UA server, serves metrics and
// applies reloads as a diff. It is the wiring that cmd/tagbridge calls; it
// holds no protocol logic of its own.
package gateway
