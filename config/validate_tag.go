package config

import (
	"math"
	"strings"
)

// tag checks one tag at key path p. paths and folders collect full tag paths
// and folder paths across the whole file, for uniqueness.
func (v *validator) tag(d *Device, t *Tag, p string, paths, folders map[string]string) {
	nameOK := false
	switch {
	case t.Name == "":
		v.errf(p+".name", "must not be empty")
	default:
		nameOK = v.treePath(p+".name", t.Name)
	}
	if nameOK && d.Folder != "" {
		full := d.TagPath(t)
		if first, ok := paths[full]; ok {
			v.errf(p+".name", "duplicate tag path %q (first at %s)", full, strings.TrimSuffix(first, ".name"))
		} else {
			paths[full] = p + ".name"
			if i := strings.LastIndexByte(full, '/'); i > 0 {
				addFolders(folders, full[:i], p+".name")
			}
		}
	}
	if strings.TrimSpace(t.Address) == "" {
		v.errf(p+".address", "must not be empty")
	}
	if strings.TrimSpace(t.Type) == "" {
		v.errf(p+".type", "must not be empty (bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bcd16, bcd32)")
	}
	if t.Length < 0 {
		v.errf(p+".length", "must be >= 0, not %d", t.Length)
	}
	if t.ByteOrder != "" {
		v.oneOf(p+".byte_order", t.ByteOrder, byteOrders)
	}
	switch t.Access {
	case "write", "rw", "read_write", "readWrite":
		v.errf(p+".access", "%q is not allowed: write readwrite", t.Access)
	default:
		v.oneOf(p+".access", t.Access, accesses)
	}
	if t.Scan < 0 {
		v.errf(p+".scan", "must be > 0, not %v (omit it to use the device's scan)", t.Scan)
	}
	engRange := v.scale(t.Scale, p+".scale")
	if t.Range != nil {
		switch {
		case len(t.Range) != 2:
			v.errf(p+".range", "needs exactly two numbers [low, high], not %d", len(t.Range))
		case !finite(t.Range...):
			v.errf(p+".range", "must be finite numbers")
		case t.Range[0] >= t.Range[1]:
			v.errf(p+".range", "low %v must be less than high %v", t.Range[0], t.Range[1])
		case t.Scale != nil && t.Scale.Eng != nil:
			v.errf(p+".range", "is set together with scale.eng, which already is the engineering range: remove one")
		default:
			engRange = true
		}
	}
	if t.Scale != nil && t.Scale.Clamp && t.Scale.Eng == nil && !engRange {
		v.errf(p+".scale.clamp", "needs an engineering range to clamp to: scale raw/eng, or range")
	}
	if db := t.Deadband; db != nil {
		dp := p + ".deadband"
		if db.Absolute < 0 || !finite(db.Absolute) {
			v.errf(dp+".absolute", "must be >= 0, not %v", db.Absolute)
		}
		if db.Percent < 0 || db.Percent > 100 || !finite(db.Percent) {
			v.errf(dp+".percent", "must be between 0 and 100, not %v", db.Percent)
		}
		if db.Absolute != 0 && db.Percent != 0 {
			v.errf(dp, "use either absolute or percent, not both")
		} else if db.Percent > 0 && !engRange {
			v.errf(dp+".percent", "needs an engineering range to take a percent of: scale raw/eng, or range")
		}
	}
}

// scale checks linear scaling and reports whether it defines an engineering
// range (raw/eng form, valid).
func (v *validator) scale(s *Scale, p string) bool {
	if s == nil {
		return false
	}
	ranged := s.Raw != nil || s.Eng != nil
	gained := s.Gain != nil || s.Offset != nil
	switch {
	case ranged && gained:
		v.errf(p, "use either raw/eng or gain/offset, not both")
		return false
	case !ranged && !gained:
		v.errf(p, "needs raw and eng ranges, or gain (and offset)")
		return false
	case gained:
		if s.Gain != nil && (*s.Gain == 0 || !finite(*s.Gain)) {
			v.errf(p+".gain", "must be a non-zero number (a zero gain cannot be inverted for writes)")
		}
		if s.Offset != nil && !finite(*s.Offset) {
			v.errf(p+".offset", "must be a finite number")
		}
		return false
	}
	ok := true
	for _, r := range []struct {
		key  string
		vals []float64
	}{{"raw", s.Raw}, {"eng", s.Eng}} {
		switch {
		case r.vals == nil:
			v.errf(p+"."+r.key, "is missing: raw and eng go together")
			ok = false
		case len(r.vals) != 2:
			v.errf(p+"."+r.key, "needs exactly two numbers [low, high], not %d", len(r.vals))
			ok = false
		case !finite(r.vals...):
			v.errf(p+"."+r.key, "must be finite numbers")
			ok = false
		case r.vals[0] == r.vals[1]:
			v.errf(p+"."+r.key, "low and high are both %v: they must differ", r.vals[0])
			ok = false
		}
	}
	return ok
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}
