package metrics

import "fmt"

// ReadyChecks are the conditions of /readyz. A nil func is not checked.
type ReadyChecks struct {
	// ConfigLoaded reports that a valid config is running.
	ConfigLoaded func() bool
	// OPCUAListening reports that the OPC UA server accepts connections.
	OPCUAListening func() bool
	// Devices lists the configured devices; at least one must be
	// connected. Nil: not checked.
	Devices DeviceStatusProvider
}

// Readiness returns the /readyz check for Handler: ready when the config is
// loaded, the OPC UA server listens and at least one device is reachable.
// Problems name every unmet condition; when no device is reachable they list
// each device with its state and last error.
func Readiness(c ReadyChecks) func() (ok bool, problems []string) {
	return func() (bool, []string) {
		var problems []string
		if c.ConfigLoaded != nil && !c.ConfigLoaded() {
			problems = append(problems, "config not loaded")
		}
		if c.OPCUAListening != nil && !c.OPCUAListening() {
			problems = append(problems, "opc ua server not listening")
		}
		if c.Devices != nil {
			problems = append(problems, deviceProblems(c.Devices.DeviceStatus())...)
		}
		return len(problems) == 0, problems
	}
}

// deviceProblems is empty when at least one device is connected.
func deviceProblems(devs []DeviceStatus) []string {
	if len(devs) == 0 {
		return []string{"no devices configured"}
	}
	for _, d := range devs {
		if d.Connected {
			return nil
		}
	}
	out := []string{"no device reachable"}
	for _, d := range devs {
		s := fmt.Sprintf("device %s: %s", d.Name, d.State)
		if d.LastError != "" {
			s += ": " + d.LastError
		}
		out = append(out, s)
	}
	return out
}
