// Package poll is the scheduler between the drivers and the tag store: one
// goroutine per device owns that device (it is never called from two
// goroutines), polls its tags in scan classes, publishes readings through
// mapping.Tag.Publish, serves the device's write queue ahead of polls,
// reconnects with exponential backoff and jitter, demotes devices that keep
// failing, keeps the _Devices/<name> status tags up to date and applies a new
// tag table as a diff on hot reload.
//
// It imports drivers and mapping only. It never imports internal/uaserver,
// config loading, or a concrete driver package (drivers are found through
// the drivers registry).
package poll
