package mapping

import (
	"slices"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
)

// StatusFolder is the top folder of the per-device status variables:
// _Devices/<device name>/<Var>.
const StatusFolder = "_Devices"

// Device states published in the State status tag.
const (
	StateConnecting = "connecting"
	StateUp         = "up"
	StateDown       = "down"
	StateDemoted    = "demoted"
	StateStopped    = "stopped"
)

// Table is the compiled tag table of one config. It is immutable once
// compiled; a reload compiles a new Table against the same Store.
type Table struct {
	Devices []*Device // enabled devices, config order
	Tags    []*Tag    // every tag incl. status tags, config order (per device: data tags, then status tags)

	// index holds the positions in Tags sorted by path. Lookups by path
	// are rare (writes, reloads), so a binary search over 4 bytes a tag
	// replaces a map that cost ~40 bytes a tag at 100k tags.
	index []int32
}

// Tag returns the tag at path, or nil if unknown.
func (t *Table) Tag(path string) *Tag {
	if t == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(t.index, path, func(k int32, p string) int {
		return strings.Compare(t.Tags[k].Path, p)
	})
	if !ok {
		return nil
	}
	return t.Tags[t.index[i]]
}

// buildIndex sorts the positions of Tags by path (paths are unique).
func (t *Table) buildIndex() {
	t.index = make([]int32, len(t.Tags))
	for i := range t.index {
		t.index[i] = int32(i)
	}
	slices.SortFunc(t.index, func(a, b int32) int { return strings.Compare(t.Tags[a].Path, t.Tags[b].Path) })
}

// Device is one compiled, enabled device.
type Device struct {
	Name, Driver, Folder string
	Scan                 time.Duration  // device default scan (tags may override)
	Options              map[string]any // the config's options map, as the driver decodes it (includes "nan" when set)
	// Settings is a copy of the device config (reliability knobs:
	// DemoteAfter, DemoteFor, BackoffMin, BackoffMax, WriteTimeout) with
	// Tags set to nil.
	Settings config.Device
	Tags     []*Tag // data tags, config order
	Status   StatusTags
	// Hash fingerprints everything in the device's config (driver, options,
	// scan, folder, reliability knobs, every tag setting). Equal hash across
	// a reload = the device and its tags are unchanged.
	Hash string

	strs map[string]string // intern: Unit, Description, Order; nil after Compile
}

// StatusTags are the synthetic diagnostics of one device under
// _Devices/<name>/. The scheduler writes them (Tag.SetValue); they are
// read-only for clients.
type StatusTags struct {
	Connected  *Tag // Bool
	State      *Tag // String: connecting | up | down | demoted | stopped
	LastError  *Tag // String
	ScanTimeMs *Tag // Float64, duration of the last scan in milliseconds
	ReadCount  *Tag // Uint64, successful reads
	ErrorCount *Tag // Uint64, failed reads
	Demoted    *Tag // Bool
}

// All lists the status tags in their fixed order.
func (s StatusTags) All() []*Tag {
	return []*Tag{s.Connected, s.State, s.LastError, s.ScanTimeMs, s.ReadCount, s.ErrorCount, s.Demoted}
}

func newStatusTags(d *Device) StatusTags {
	mk := func(name string, typ drivers.Type, unit, desc string) *Tag {
		path := StatusFolder + "/" + d.Name + "/" + name
		return &Tag{
			Path: path, NodeID: path, Device: d.Name, Name: name,
			Addr:   drivers.Address{Tag: path, Type: typ, Scan: d.Scan},
			Type:   typ,
			Access: Read, Unit: unit, Description: desc,
			Scan: d.Scan, NaN: NaNKeep, Status: true,
		}
	}
	return StatusTags{
		Connected:  mk("Connected", drivers.Bool, "", "True while the device answers"),
		State:      mk("State", drivers.String, "", "connecting | up | down | demoted | stopped"),
		LastError:  mk("LastError", drivers.String, "", "Last read or connection error"),
		ScanTimeMs: mk("ScanTimeMs", drivers.Float64, "ms", "Duration of the last scan"),
		ReadCount:  mk("ReadCount", drivers.Uint64, "", "Successful reads since start"),
		ErrorCount: mk("ErrorCount", drivers.Uint64, "", "Failed reads since start"),
		Demoted:    mk("Demoted", drivers.Bool, "", "True while the device is demoted after repeated timeouts"),
	}
}
