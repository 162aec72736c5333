package config

import _ "embed"

//go:embed demo.yaml
var demoYAML []byte

// Demo returns the built-in demo config: a simulated press line on the sim
// driver (three devices, 22 tags of every type, one writable setpoint),
// served by `tagbridge run` when there is no config file. TAGBRIDGE_*
// variables apply to it as to any file. File is "".
func Demo() (*Config, error) {
	return Parse(demoYAML, "")
}

// DemoYAML returns the demo's YAML text, a starting point for a real file.
func DemoYAML() []byte {
	return append([]byte(nil), demoYAML...)
}
