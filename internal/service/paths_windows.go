//go:build windows

package service

import "os"

// DefaultConfigPath is where an installed Tagbridge reads its config:
// %ProgramData%\Tagbridge\tagbridge.yaml.
func DefaultConfigPath() string {
	c, _ := windowsPaths(os.Getenv("ProgramData"))
	return c
}

// DefaultPKIDir is where an installed Tagbridge keeps its OPC UA certificates
// (own\, trusted\, rejected\): %ProgramData%\Tagbridge\pki.
func DefaultPKIDir() string {
	_, p := windowsPaths(os.Getenv("ProgramData"))
	return p
}
