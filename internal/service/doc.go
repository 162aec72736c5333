// Package service owns how Tagbridge runs as an operating-system service: under
// the Windows Service Control Manager (golang.org/x/sys/windows/svc, with the
// Windows Event Log for logs), and the default config and PKI paths per OS.
// On Linux, systemd runs the plain foreground process (deploy/tagbridge.service),
// so Run reports that it did not handle the process.
//
// It imports only the standard library and golang.org/x/sys. It must never
// import config, mapping, drivers or any internal package: cmd/tagbridge hands
// it a run function.
package service
