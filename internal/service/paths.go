package service

import "strings"

// Default paths on Linux (and other Unix systems), as DESIGN.md fixes them
// and deploy/tagbridge.service uses.
const (
	unixConfigPath = "/etc/tagbridge/tagbridge.yaml"
	unixPKIDir     = "/var/lib/tagbridge/pki"
)

// windowsFallbackProgramData is used when %ProgramData% is unset, which only
// happens in stripped-down environments.
const windowsFallbackProgramData = `C:\ProgramData`

// windowsPaths returns the config file and PKI folder under %ProgramData%.
// It joins with backslashes itself so that it can be tested on any OS.
func windowsPaths(programData string) (config, pki string) {
	base := strings.TrimRight(programData, `\/`)
	if base == "" {
		base = windowsFallbackProgramData
	}
	base += `\Tagbridge`
	return base + `\tagbridge.yaml`, base + `\pki`
}
