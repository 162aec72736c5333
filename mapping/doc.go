// Package mapping compiles the config into a tag table (paths, node ids,
// types, scaling, deadband, units), decodes raw driver samples into
// engineering values with quality, encodes engineering values back to raw
// values for writes, and keeps the latest value of every tag in a Store with
// change fan-out that never blocks the poller.
//
// Files: compile.go (Compile, the config -> Table rules), table.go (Table,
// Device, status tags), decode.go (Decode/Publish/SetQuality), encode.go
// (Encode for writes), convert.go (number conversions, deadband compare),
// units.go (UNECE units), check.go (CheckDrivers for `tagbridge validate`),
// store.go (Store, Entry, Watcher).
//
// It imports drivers (Sample, Quality, Type) and config (tag settings); never
// a concrete driver or internal/*.
package mapping
