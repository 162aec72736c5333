package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
)

// DefaultScan is used when neither the tag nor the device sets a scan
// period (config validation normally fills or rejects it first).
const DefaultScan = time.Second

// Compile turns cfg into a tag table. Every problem is reported, each at its
// key path with its line (the error is a config.Errors). The store is only
// touched when cfg compiles: then each Tag gets Entry = store.Entry(path),
// so an unchanged path keeps its Entry (and its watchers) across reloads.
// Disabled devices (enabled: false) are checked but left out of the table.
func Compile(cfg *config.Config, store *Store) (*Table, error) {
	var errs config.Errors
	tbl := &Table{}
	where := map[string]string{} // path -> key path that defined it, for duplicate errors
	for i := range cfg.Devices {
		cd := &cfg.Devices[i]
		dp := fmt.Sprintf("devices[%d]", i)
		d := compileDevice(cfg, cd, dp, &errs)
		d.Tags = make([]*Tag, 0, len(cd.Tags))
		for j := range cd.Tags {
			tp := fmt.Sprintf("%s.tags[%d]", dp, j)
			t := compileTag(cfg, d, &cd.Tags[j], tp, &errs)
			if t == nil {
				continue
			}
			if prev, dup := where[t.Path]; dup {
				cfg.Errorf(&errs, tp+".name", "duplicate tag path %q (also %s)", t.Path, prev)
				continue
			}
			where[t.Path] = tp
			d.Tags = append(d.Tags, t)
		}
		if cd.Enabled != nil && !*cd.Enabled {
			continue
		}
		if d.Name == "" || strings.Contains(d.Name, "/") {
			continue // reported by compileDevice
		}
		d.Status = newStatusTags(d)
		for _, st := range d.Status.All() {
			if prev, dup := where[st.Path]; dup {
				if strings.HasSuffix(prev, "].name") && !strings.Contains(prev, ".tags[") {
					continue // two devices with one name: reported once as a duplicate device name
				}
				cfg.Errorf(&errs, prev+".name", "tag path %q collides with the status variable of device %q", st.Path, d.Name)
			}
			where[st.Path] = dp + ".name"
		}
		d.strs = nil
		tbl.Devices = append(tbl.Devices, d)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	n := 0
	for _, d := range tbl.Devices {
		n += len(d.Tags) + len(d.Status.All())
	}
	tbl.Tags = make([]*Tag, 0, n)
	for _, d := range tbl.Devices {
		for _, t := range d.Tags {
			tbl.add(t, store)
		}
		for _, t := range d.Status.All() {
			tbl.add(t, store)
		}
	}
	tbl.buildIndex()
	return tbl, nil
}

func (tbl *Table) add(t *Tag, store *Store) {
	if store != nil {
		t.Entry = store.Entry(t.Path)
		// A reload that changed the tag's type must not show the old
		// value under the new DataType.
		if v := t.Entry.Load(); v.V != nil && !t.Type.Holds(v.V) {
			t.Entry.Set(Value{Quality: drivers.BadWaitingForInitialData, Server: time.Now()})
		}
	}
	tbl.Tags = append(tbl.Tags, t)
}

// compileDevice builds the device part; problems go to errs. It never
// returns nil, so that its tags are still checked.
func compileDevice(cfg *config.Config, cd *config.Device, dp string, errs *config.Errors) *Device {
	d := &Device{
		Name: cd.Name, Driver: cd.Driver, Scan: cd.Scan, Options: cd.Options,
		Settings: *cd, Hash: deviceHash(cd),
	}
	d.Settings.Tags = nil
	if d.Scan <= 0 {
		d.Scan = DefaultScan
	}
	// Messages match config.Validate's for the same mistakes, so that
	// `tagbridge validate` (which runs both and drops exact repeats) shows
	// each once.
	switch {
	case cd.Name == "":
		cfg.Errorf(errs, dp+".name", "must not be empty")
	case strings.Contains(cd.Name, "/"):
		cfg.Errorf(errs, dp+".name", "%q must not contain '/' (use folder for the place in the tree)", cd.Name)
	}
	folder, folderKey := cd.Folder, dp+".folder"
	if folder == "" {
		folder, folderKey = cd.Name, dp+".name"
	}
	if folder != "" {
		if msg := treePath(folder); msg != "" && folderKey != dp+".name" { // a bad name is reported above or by config.Validate
			cfg.Errorf(errs, folderKey, "%s", msg)
		} else if reserved(folder) {
			cfg.Errorf(errs, folderKey, "%q is reserved for the device status folder", StatusFolder)
		}
	}
	d.Folder = folder
	if v, ok := cd.Options["nan"]; ok {
		s, _ := v.(string)
		switch s {
		case NaNBad, NaNZero, NaNKeep:
		default:
			cfg.Errorf(errs, dp+".options.nan", "unknown nan policy %v (want bad, zero or keep)", quoteAny(v))
		}
	}
	return d
}

// intern returns one shared copy of s per device: a config decoded from
// YAML holds its own copy of "degC" for every tag.
func (d *Device) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := d.strs[s]; ok {
		return v
	}
	if d.strs == nil {
		d.strs = map[string]string{}
	}
	d.strs[s] = s
	return s
}

func quoteAny(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v", v)
}

func reserved(p string) bool { return p == StatusFolder || strings.HasPrefix(p, StatusFolder+"/") }

// treePath checks a folder or tag name: '/'-separated segments, none
// empty, none padded with spaces. It returns "" or the problem.
func treePath(s string) string {
	switch {
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return fmt.Sprintf("%q must not start or end with '/'", s)
	case strings.Contains(s, "//"):
		return fmt.Sprintf("%q has an empty segment ('//')", s)
	}
	for _, seg := range strings.Split(s, "/") {
		if strings.TrimSpace(seg) != seg || seg == "" {
			return fmt.Sprintf("%q has a segment with leading or trailing spaces", s)
		}
	}
	return ""
}

// compileTag builds one data tag of d. It returns nil only when the tag has
// no usable path or type; other problems are reported and the tag returned.
func compileTag(cfg *config.Config, d *Device, ct *config.Tag, tp string, errs *config.Errors) *Tag {
	t := &Tag{
		Device: d.Name, Name: ct.Name, Unit: d.intern(ct.Unit), Description: d.intern(ct.Description),
		NaN: NaNBad, Scan: ct.Scan,
	}
	if s, ok := d.Options["nan"].(string); ok && (s == NaNZero || s == NaNKeep) {
		t.NaN = s
	}
	if t.Scan <= 0 {
		t.Scan = d.Scan
	}
	ok := true
	name := ct.Name
	if name == "" {
		cfg.Errorf(errs, tp+".name", "must not be empty")
		ok = false
	} else if msg := treePath(name); msg != "" {
		cfg.Errorf(errs, tp+".name", "%s", msg)
		ok = false
	}
	t.Path = name
	if d.Folder != "" {
		t.Path = d.Folder + "/" + name
		// Name shares Path's bytes, so the config's copy can be freed.
		t.Name = t.Path[len(d.Folder)+1:]
	}
	t.NodeID = t.Path
	if ok && reserved(t.Path) {
		if !reserved(d.Folder) { // else the folder error is already reported
			cfg.Errorf(errs, tp+".name", "%q is reserved for the device status folder", StatusFolder)
		}
		ok = false
	}
	if ct.Address == "" {
		cfg.Errorf(errs, tp+".address", "address is required")
	}
	raw := drivers.Invalid
	if ct.Type == "" {
		cfg.Errorf(errs, tp+".type", "type is required")
		ok = false
	} else if typ, err := drivers.ParseType(ct.Type); err != nil {
		cfg.Errorf(errs, tp+".type", "unknown type %q", ct.Type)
		ok = false
	} else {
		raw = typ
	}
	switch ct.Access {
	case "", "read":
		t.Access = Read
	case "readwrite":
		t.Access = ReadWrite
	default:
		cfg.Errorf(errs, tp+".access", "unknown access %q (want read or readwrite)", ct.Access)
	}
	t.Addr = drivers.Address{
		Tag: t.Path, Addr: ct.Address, Type: raw, Length: ct.Length,
		Order: d.intern(ct.ByteOrder), Options: ct.Options, Scan: t.Scan,
	}
	if len(t.Addr.Options) == 0 {
		t.Addr.Options = nil // an empty map from the decoder is ~50 bytes a tag
	}
	if !ok {
		return nil
	}
	switch {
	case raw == drivers.String && ct.Length < 0:
		cfg.Errorf(errs, tp+".length", "must be >= 0 bytes, not %d", ct.Length)
	case raw != drivers.String && ct.Length != 0:
		cfg.Errorf(errs, tp+".length", "length applies only to type string, not %s", raw)
	}
	t.Type = engType(raw)
	if ct.Range != nil {
		t.Range = checkRange(cfg, ct.Range, tp+".range", raw, errs)
	}
	if ct.Scale != nil {
		t.Scale = compileScale(cfg, ct.Scale, tp+".scale", raw, t.Range, errs)
		if t.Scale != nil {
			t.Type = drivers.Float64
			if t.Scale.HasRange {
				lo, hi := minmax(ct.Scale.Eng[0], ct.Scale.Eng[1])
				t.Range = &[2]float64{lo, hi}
			}
		}
	}
	if ct.Deadband != nil {
		t.Deadband = compileDeadband(cfg, ct.Deadband, tp+".deadband", raw, t.Range, errs)
	}
	return t
}

// engType is the type clients see for an unscaled tag of raw type raw.
func engType(raw drivers.Type) drivers.Type {
	switch raw {
	case drivers.BCD16:
		return drivers.Uint16
	case drivers.BCD32:
		return drivers.Uint32
	}
	return raw
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func minmax(a, b float64) (float64, float64) {
	if a > b {
		return b, a
	}
	return a, b
}

func checkRange(cfg *config.Config, r []float64, key string, raw drivers.Type, errs *config.Errors) *[2]float64 {
	switch {
	case !raw.Numeric():
		cfg.Errorf(errs, key, "range on a %s tag (only numbers have a range)", raw)
	case len(r) != 2:
		cfg.Errorf(errs, key, "want [low, high], got %d values", len(r))
	case !finite(r[0]) || !finite(r[1]):
		cfg.Errorf(errs, key, "low and high must be finite numbers")
	case r[0] >= r[1]:
		cfg.Errorf(errs, key, "low (%g) must be below high (%g)", r[0], r[1])
	default:
		return &[2]float64{r[0], r[1]}
	}
	return nil
}

func compileScale(cfg *config.Config, cs *config.Scale, key string, raw drivers.Type, rng *[2]float64, errs *config.Errors) *Scale {
	if !raw.Numeric() {
		cfg.Errorf(errs, key, "scale on a %s tag (only numbers can be scaled)", raw)
		return nil
	}
	ranged := cs.Raw != nil || cs.Eng != nil
	gained := cs.Gain != nil || cs.Offset != nil
	n := len(*errs)
	s := &Scale{Gain: 1, Clamp: cs.Clamp}
	switch {
	case ranged && gained:
		cfg.Errorf(errs, key, "use either raw/eng or gain/offset, not both")
	case ranged:
		pair := func(v []float64, k string) {
			switch {
			case len(v) != 2:
				cfg.Errorf(errs, key+"."+k, "want [low, high], got %d values", len(v))
			case !finite(v[0]) || !finite(v[1]):
				cfg.Errorf(errs, key+"."+k, "values must be finite numbers")
			case v[0] == v[1]:
				cfg.Errorf(errs, key+"."+k, "the two ends must differ")
			}
		}
		pair(cs.Raw, "raw")
		pair(cs.Eng, "eng")
		if len(*errs) > n {
			return nil
		}
		s.HasRange = true
		s.RawLow, s.RawHigh = cs.Raw[0], cs.Raw[1]
		s.Gain = (cs.Eng[1] - cs.Eng[0]) / (cs.Raw[1] - cs.Raw[0])
		s.Offset = cs.Eng[0] - cs.Raw[0]*s.Gain
		s.EngLow, s.EngHigh = minmax(cs.Eng[0], cs.Eng[1])
	case gained:
		if cs.Gain != nil {
			s.Gain = *cs.Gain
		}
		if cs.Offset != nil {
			s.Offset = *cs.Offset
		}
		if !finite(s.Gain) || s.Gain == 0 {
			cfg.Errorf(errs, key+".gain", "gain must be a finite number other than 0")
		}
		if !finite(s.Offset) {
			cfg.Errorf(errs, key+".offset", "offset must be a finite number")
		}
		if cs.Clamp {
			if rng == nil {
				cfg.Errorf(errs, key+".clamp", "clamp with gain/offset needs the tag's range")
			} else {
				s.EngLow, s.EngHigh = rng[0], rng[1]
			}
		}
	default:
		cfg.Errorf(errs, key, "empty scale: give raw and eng, or gain and/or offset")
	}
	if len(*errs) > n {
		return nil
	}
	if !finite(s.Gain) || s.Gain == 0 {
		cfg.Errorf(errs, key, "scale gives a gain of %g", s.Gain)
		return nil
	}
	return s
}

func compileDeadband(cfg *config.Config, cd *config.Deadband, key string, raw drivers.Type, rng *[2]float64, errs *config.Errors) Deadband {
	if !raw.Numeric() {
		cfg.Errorf(errs, key, "deadband on a %s tag (only numbers have a deadband)", raw)
		return Deadband{}
	}
	n := len(*errs)
	if !finite(cd.Absolute) || cd.Absolute < 0 {
		cfg.Errorf(errs, key+".absolute", "must be a finite number >= 0")
	}
	if !finite(cd.Percent) || cd.Percent < 0 {
		cfg.Errorf(errs, key+".percent", "must be a finite number >= 0")
	}
	if cd.Absolute > 0 && cd.Percent > 0 {
		cfg.Errorf(errs, key, "absolute and percent are exclusive")
	}
	if cd.Percent > 0 && rng == nil {
		cfg.Errorf(errs, key+".percent", "percent deadband needs a range (scale.eng or range)")
	}
	if len(*errs) > n {
		return Deadband{}
	}
	return Deadband{Absolute: cd.Absolute, Percent: cd.Percent}
}

// deviceHash fingerprints the whole device config. JSON sorts map keys and
// follows pointers, so equal configs give equal hashes.
func deviceHash(cd *config.Device) string {
	b, err := json.Marshal(cd)
	if err != nil { // options holding something JSON cannot encode (map[any]any)
		c := *cd
		c.Options = nil
		b, _ = json.Marshal(c)
		b = fmt.Appendf(b, "%#v", cd.Options)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
