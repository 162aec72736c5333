//go:build !windows

package service

import (
	"context"
	"errors"
	"io"
)

// Run returns handled=false: outside Windows the process runs in the
// foreground (systemd, a terminal) and the caller runs it itself.
func Run(name string, run func(ctx context.Context) error, opts ...Option) (handled bool, err error) {
	_ = buildOptions(opts)
	return false, nil
}

// IsService reports whether the process was started by the Windows SCM:
// always false outside Windows.
func IsService() bool { return false }

// OpenLog opens the Windows Event Log source name; outside Windows it
// returns errors.ErrUnsupported (log to stderr: journald collects it).
func OpenLog(name string) (io.WriteCloser, error) {
	return nil, errors.ErrUnsupported
}
