package mtconnect

import (
	"strings"

	"github.com/tagbridge/tagbridge/drivers"
)

// unitNames maps MTConnect units to the config-style unit names tags use
// (`unit:` in the YAML, turned into OPC UA EngineeringUnits by mapping).
var unitNames = map[string]string{
	"AMPERE":                  "A",
	"AMPERE_HOUR":             "Ah",
	"CELSIUS":                 "degC",
	"COUNT":                   "",
	"COUNT/SECOND":            "1/s",
	"CUBIC_MILLIMETER":        "mm^3",
	"CUBIC_MILLIMETER/SECOND": "mm^3/s",
	"DECIBEL":                 "dB",
	"DEGREE":                  "deg",
	"DEGREE/SECOND":           "deg/s",
	"DEGREE/SECOND^2":         "deg/s^2",
	"DEGREE_3D":               "deg",
	"GRAM":                    "g",
	"HERTZ":                   "Hz",
	"JOULE":                   "J",
	"KILOGRAM":                "kg",
	"KILOWATT":                "kW",
	"KILOWATT_HOUR":           "kWh",
	"LITER":                   "l",
	"LITER/SECOND":            "l/s",
	"METER":                   "m",
	"MILLIGRAM":               "mg",
	"MILLIMETER":              "mm",
	"MILLIMETER/REVOLUTION":   "mm/rev",
	"MILLIMETER/SECOND":       "mm/s",
	"MILLIMETER/SECOND^2":     "mm/s^2",
	"MILLIMETER_3D":           "mm",
	"MINUTE":                  "min",
	"NEWTON":                  "N",
	"NEWTON_METER":            "Nm",
	"OHM":                     "Ohm",
	"PASCAL":                  "Pa",
	"PERCENT":                 "%",
	"RADIAN":                  "rad",
	"RADIAN/SECOND":           "rad/s",
	"REVOLUTION/MINUTE":       "rpm",
	"SECOND":                  "s",
	"VOLT":                    "V",
	"VOLT_AMPERE":             "VA",
	"VOLT_AMPERE_REACTIVE":    "var",
	"WATT":                    "W",
	"WATT_SECOND":             "Ws",
}

// unitName maps an MTConnect unit to the config-style name ("" when none or unknown).
func unitName(u string) string { return unitNames[strings.ToUpper(strings.TrimSpace(u))] }

// intEvents are the EVENT types whose values are integers.
var intEvents = map[string]bool{
	"PART_COUNT":         true,
	"LINE":               true, // before 1.4
	"LINE_NUMBER":        true,
	"BLOCK_COUNT":        true,
	"TOOL_NUMBER":        true,
	"PROGRAM_NEST_LEVEL": true,
}

// vectorSamples are SAMPLE types whose value is several numbers ("x y z").
var vectorSamples = map[string]bool{
	"PATH_POSITION": true, "ORIENTATION": true, "ROTATION": true, "TRANSLATION": true,
}

// defaultType is the Tagbridge type of a DataItem's value (section "Types" of docs/mtconnect.md).
func defaultType(it dataItem) drivers.Type {
	rep := it.Representation
	if rep != "" && rep != "VALUE" && rep != "DISCRETE" {
		return drivers.String // TIME_SERIES, DATA_SET, TABLE: several values in one
	}
	typ := strings.ToUpper(it.Type)
	switch it.Category {
	case "SAMPLE":
		if vectorSamples[typ] {
			return drivers.String
		}
		return drivers.Float64
	case "EVENT":
		if intEvents[typ] {
			return drivers.Int32
		}
	}
	return drivers.String
}
