package uaserver

import "github.com/tagbridge/tagbridge/mapping"

// lookupUnit resolves a tag's unit name (e.g. "degC") to its UNECE
// EngineeringUnits information. An unknown name still yields a unit with
// only its display name, so clients show what the config says.
func lookupUnit(name string) (mapping.UnitInfo, bool) {
	if name == "" {
		return mapping.UnitInfo{}, false
	}
	if u, ok := mapping.Unit(name); ok {
		return u, true
	}
	return mapping.UnitInfo{UnitID: -1, DisplayName: name, NamespaceURI: "http://www.opcfoundation.org/UA/units/un/cefact"}, true
}
