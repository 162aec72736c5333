// Package deploy holds the install files for industrial PCs: the systemd unit
// (tagbridge.service), its installer (install.sh), the Windows service
// installer (windows/install.ps1) and the config installed when none exists
// (tagbridge.example.yaml). It has no code; its tests check those files
// statically. See docs/install.md.
package deploy
