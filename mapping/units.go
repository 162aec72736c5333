package mapping

// UnitsNamespace is the NamespaceUri of EUInformation for UNECE codes
// (OPC UA Part 8, 5.6.3).
const UnitsNamespace = "http://www.opcfoundation.org/UA/units/un/cefact"

// UnitInfo is the OPC UA EUInformation of a unit.
type UnitInfo struct {
	UnitID       int32  // the UNECE common code packed per Part 8 (5.6.3)
	Code         string // the UNECE Rec 20 common code, e.g. "CEL"
	DisplayName  string // symbol, e.g. "°C"
	Description  string // e.g. "degree Celsius"
	NamespaceURI string // UnitsNamespace
}

// Unit returns the EUInformation of a config unit name ("degC", "rpm",
// "m3/h"...). Unknown units are allowed in the config: Unit returns false
// and the server shows the name as the display name.
func Unit(name string) (UnitInfo, bool) {
	code, disp, desc := unece(name)
	if code == "" {
		return UnitInfo{}, false
	}
	return UnitInfo{UnitID: UnitID(code), Code: code, DisplayName: disp, Description: desc, NamespaceURI: UnitsNamespace}, true
}

// UnitID packs a UNECE common code into an EUInformation UnitId: for each
// character c, id = id<<8 | c (OPC UA Part 8, 5.6.3).
func UnitID(code string) int32 {
	var id int32
	for i := 0; i < len(code); i++ {
		id = id<<8 | int32(code[i])
	}
	return id
}

// UnitNames lists the config unit names Unit knows, in the order of the
// table in docs/tags.md (aliases such as "°C" are accepted too).
func UnitNames() []string {
	return []string{
		"degC", "degF", "K", "bar", "mbar", "Pa", "kPa", "MPa", "psi", "%", "rpm", "Hz",
		"A", "mA", "V", "W", "kW", "kWh", "m", "mm", "um", "m/s", "mm/s", "m3/h", "l/min",
		"kg", "t", "N", "Nm", "s", "ms", "h",
	}
}

// unece maps a unit name to its Rec 20 code, symbol and description. A
// switch rather than a map keeps the package free of mutable state.
func unece(name string) (code, display, desc string) {
	switch name {
	case "degC", "°C":
		return "CEL", "°C", "degree Celsius"
	case "degF", "°F":
		return "FAH", "°F", "degree Fahrenheit"
	case "K":
		return "KEL", "K", "kelvin"
	case "bar":
		return "BAR", "bar", "bar [unit of pressure]"
	case "mbar":
		return "MBR", "mbar", "millibar"
	case "Pa":
		return "PAL", "Pa", "pascal"
	case "kPa":
		return "KPA", "kPa", "kilopascal"
	case "MPa":
		return "MPA", "MPa", "megapascal"
	case "psi":
		return "PS", "psi", "pound-force per square inch"
	case "%":
		return "P1", "%", "percent"
	case "rpm", "RPM", "r/min", "1/min":
		return "RPM", "r/min", "revolutions per minute"
	case "Hz":
		return "HTZ", "Hz", "hertz"
	case "A":
		return "AMP", "A", "ampere"
	case "mA":
		return "4K", "mA", "milliampere"
	case "V":
		return "VLT", "V", "volt"
	case "W":
		return "WTT", "W", "watt"
	case "kW":
		return "KWT", "kW", "kilowatt"
	case "kWh", "kW.h", "kW·h":
		return "KWH", "kW·h", "kilowatt hour"
	case "m":
		return "MTR", "m", "metre"
	case "mm":
		return "MMT", "mm", "millimetre"
	case "um", "µm", "μm":
		return "4H", "µm", "micrometre (micron)"
	case "m/s":
		return "MTS", "m/s", "metre per second"
	case "mm/s":
		return "C16", "mm/s", "millimetre per second"
	case "m3/h", "m³/h":
		return "MQH", "m³/h", "cubic metre per hour"
	case "l/min", "L/min":
		return "L2", "l/min", "litre per minute"
	case "kg":
		return "KGM", "kg", "kilogram"
	case "t":
		return "TNE", "t", "tonne (metric ton)"
	case "N":
		return "NEW", "N", "newton"
	case "Nm", "N.m", "N·m":
		return "NU", "N·m", "newton metre"
	case "s", "sec":
		return "SEC", "s", "second [unit of time]"
	case "ms":
		return "C26", "ms", "millisecond"
	case "h":
		return "HUR", "h", "hour"
	}
	return "", "", ""
}
