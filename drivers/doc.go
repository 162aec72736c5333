// Package drivers defines the contract between Tagbridge and its southbound
// protocol drivers (Modbus, MTConnect, the simulator), the Sample and Quality
// types that carry readings, and the driver registry.
//
// It imports only the standard library. It never imports mapping, config,
// internal/* or a concrete driver package.
package drivers
