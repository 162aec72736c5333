//go:build !windows

package service

// DefaultConfigPath is where an installed Tagbridge reads its config:
// /etc/tagbridge/tagbridge.yaml.
func DefaultConfigPath() string { return unixConfigPath }

// DefaultPKIDir is where an installed Tagbridge keeps its OPC UA certificates
// (own/, trusted/, rejected/): /var/lib/tagbridge/pki.
func DefaultPKIDir() string { return unixPKIDir }
