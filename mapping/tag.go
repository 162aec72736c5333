package mapping

import (
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// Access is what clients may do with a tag.
type Access uint8

const (
	Read      Access = iota + 1 // read only
	ReadWrite                   // read and write
)

// Tag is one compiled tag. It is immutable once compiled; a reload compiles
// new Tags (the Store Entry of an unchanged path is reused).
type Tag struct {
	Path        string          // full path under Objects: <folder>/<tag name>, e.g. "Line1/Press3/Temperature"
	NodeID      string          // the string identifier of the NodeId (ns=<app uri index>;s=<NodeID>); equals Path
	Device      string          // device name
	Name        string          // tag name as configured (may hold '/')
	Addr        drivers.Address // what the driver reads
	Type        drivers.Type    // engineering type clients see (Float64 when scaled)
	Access      Access
	Scale       *Scale   // nil: no scaling
	Deadband    Deadband // zero: none
	Unit        string   // e.g. "degC"
	Description string
	Range       *[2]float64 // EURange: scale.eng or tag range; nil when unknown
	Scan        time.Duration
	NaN         string // nan policy of the device: bad | zero | keep (mapping applies it)
	Status      bool   // a synthetic _Devices/<name>/... status tag, written by the scheduler

	// Entry holds the tag's latest value in the Store.
	Entry *Entry
}

// Scale is linear scaling: eng = raw*Gain + Offset, optionally clamped to
// [EngLow, EngHigh].
type Scale struct {
	Gain, Offset    float64
	Clamp           bool
	EngLow, EngHigh float64 // clamp bounds (from eng range) when Clamp
	RawLow, RawHigh float64 // raw range, for Encode range checks; both 0 when gain/offset form
	HasRange        bool    // raw/eng form
}

// Deadband suppresses a change smaller than Absolute, or than Percent of the
// tag's Range.
type Deadband struct {
	Absolute float64
	Percent  float64
}
