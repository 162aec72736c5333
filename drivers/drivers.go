package drivers

import (
	"context"
	"errors"
	"time"
)

// ErrBadConn is returned (wrapped) by Device methods when the connection to
// the device is unusable. The scheduler closes the device and opens it again
// with exponential backoff.
var ErrBadConn = errors.New("drivers: bad connection")

// Driver opens devices. One Driver value is registered per protocol name.
type Driver interface {
	// Open decodes and validates opts strictly (an unknown key is an error)
	// and returns a Device. Open must not block on the network: connecting
	// happens lazily on the first Read or Write, so that `tagbridge validate`
	// and `tagbridge plan` can call Open without a reachable device.
	// name is the device name from the config, for errors and logs.
	Open(ctx context.Context, name string, opts map[string]any) (Device, error)
}

// Device is one configured device. Its methods are never called concurrently:
// the scheduler owns a device from one goroutine.
type Device interface {
	// Read reads addrs and fills out[i] for every i (len(out) == len(addrs)).
	// Per-point problems are Samples with a Bad Quality and Err set; Read
	// returns an error only when the whole batch failed (wrap ErrBadConn when
	// the connection must be re-opened). ctx bounds the whole call.
	Read(ctx context.Context, addrs []Address, out []Sample) error
	// Close releases the device. It is idempotent.
	Close() error
}

// Writer is implemented by devices that accept writes. v holds the raw value
// in the Go type of a.Type (see Type.Zero).
type Writer interface {
	Write(ctx context.Context, a Address, v any) error
}

// Preparer is implemented by devices that plan a set of addresses once (per
// scan class) and read the plan repeatedly. Prepare does no I/O.
type Preparer interface {
	Prepare(addrs []Address) (Batch, error)
}

// Batch is a prepared read of a fixed address list.
type Batch interface {
	// Read has the contract of Device.Read for the prepared addresses.
	Read(ctx context.Context, out []Sample) error
}

// Checker is implemented by devices that can validate one address statically
// (syntax, type compatibility) without I/O; `tagbridge validate` uses it.
type Checker interface {
	Check(a Address) error
}

// Request describes one wire request of a prepared Batch, for `tagbridge plan`.
type Request struct {
	Unit     int      // unit / slave id, 0 when not applicable
	Function string   // e.g. "fc3"
	Start    int      // first PDU address
	Count    int      // registers or bits
	Tags     []string // tag paths covered
}

// Planner is implemented by Batches that can describe their wire requests.
type Planner interface {
	Requests() []Request
}

// Address is one point as the driver sees it: the tag's address string plus
// the raw type and per-tag driver options.
type Address struct {
	Tag     string         // full tag path, for errors and logs
	Addr    string         // the address string from the config, e.g. "40001", "sine:period=10s"
	Type    Type           // raw data type
	Length  int            // bytes, for strings
	Order   string         // per-tag byte/word order override ("" = device default)
	Options map[string]any // other per-tag driver options (tag key `options`), may be nil
	Scan    time.Duration  // the tag's scan class
}

// Sample is one reading.
type Sample struct {
	Value   any       // raw value in the Go type of the Address's Type; nil when not Good and no value
	Quality Quality   // Good, or the reason the value is not usable
	Time    time.Time // source timestamp: when the device answered, or the device's own timestamp
	Err     error     // diagnostics when Quality is not Good
}

// Discoverer is implemented by devices that can list their own points, for
// devices configured with `auto: true` (MTConnect). The scheduler calls it
// after the first successful connection; the returned points become tags
// under the device's folder.
type Discoverer interface {
	Discover(ctx context.Context) ([]PointInfo, error)
}

// PointInfo is one discovered point.
type PointInfo struct {
	Name        string // tag name relative to the device folder; may hold '/'
	Addr        string // address the device understands in Read
	Type        Type
	Unit        string // config-style unit ("mm", "rpm"...), "" when none
	Description string
	Writable    bool
}
