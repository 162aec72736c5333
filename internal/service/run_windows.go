//go:build windows

package service

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
)

// stopWaitHint tells the SCM how long a stop may take: the gateway stops
// within 5 s (DESIGN.md section 4), with margin.
const stopWaitHint = 10 * time.Second

// exitRuntimeFailure is the service-specific exit code when run fails, the
// same as the CLI's exit code 2, so that the SCM's recovery actions restart
// the service (install.ps1 sets them with failureflag 1).
const exitRuntimeFailure = 2

// IsService reports whether the SCM started this process.
func IsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// Run runs run under the Windows Service Control Manager when the SCM
// started this process: Stop and Shutdown cancel run's context, and run's
// return ends the service. It returns handled=false (and does nothing) when
// the process was started from a console, so the caller runs in the
// foreground instead.
func Run(name string, run func(ctx context.Context) error, opts ...Option) (handled bool, err error) {
	is, err := svc.IsWindowsService()
	if err != nil {
		return false, fmt.Errorf("service %s: detect the service control manager: %w", name, err)
	}
	if !is {
		return false, nil
	}
	h := &handler{run: run, opt: buildOptions(opts)}
	if err := svc.Run(name, h); err != nil {
		return true, fmt.Errorf("service %s: %w", name, err)
	}
	return true, h.err
}

// handler adapts supervise to svc.Handler.
type handler struct {
	run func(ctx context.Context) error
	opt options
	err error // run's error, read by Run after svc.Run returned
}

func (h *handler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	accepts := svc.AcceptStop | svc.AcceptShutdown
	if h.opt.reload != nil {
		accepts |= svc.AcceptParamChange
	}
	reqs := make(chan request)
	stop := make(chan struct{})
	defer close(stop)
	last := svc.Status{State: svc.StartPending}
	go func() { // translate SCM requests until supervise returns
		for {
			select {
			case <-stop:
				return
			case c, ok := <-r:
				if !ok { // supervise treats a closed channel as a stop
					close(reqs)
					return
				}
				var q request
				switch c.Cmd {
				case svc.Interrogate:
					q = reqInterrogate
				case svc.Stop, svc.Shutdown:
					q = reqStop
				case svc.ParamChange:
					q = reqParamChange
				default:
					continue
				}
				select {
				case reqs <- q:
				case <-stop:
					return
				}
			}
		}
	}()
	report := func(st state) {
		switch st {
		case stateStartPending:
			last = svc.Status{State: svc.StartPending, WaitHint: uint32(stopWaitHint / time.Millisecond)}
		case stateRunning:
			last = svc.Status{State: svc.Running, Accepts: accepts}
		case stateStopPending:
			last = svc.Status{State: svc.StopPending, WaitHint: uint32(stopWaitHint / time.Millisecond)}
		}
		s <- last
	}
	h.err = supervise(h.run, reqs, report, h.opt.reload)
	if h.err != nil {
		return true, exitRuntimeFailure
	}
	return false, 0
}

// OpenLog opens the Event Log source name (registered by
// deploy/windows/install.ps1) as a writer: each Write is one event, with
// the severity of the slog level found in the line. Use it for the logger
// when IsService reports true: a service has no console.
func OpenLog(name string) (io.WriteCloser, error) {
	l, err := eventlog.Open(name)
	if err != nil {
		return nil, fmt.Errorf("service: open event log source %s: %w", name, err)
	}
	return eventWriter{l}, nil
}

type eventWriter struct{ l *eventlog.Log }

// eventID is the one event id Tagbridge uses; EventCreate.exe, the message
// file install.ps1 registers, accepts ids 1..1000.
const eventID = 1

func (w eventWriter) Write(p []byte) (int, error) {
	msg := eventText(p)
	var err error
	switch severity(p) {
	case sevError:
		err = w.l.Error(eventID, msg)
	case sevWarning:
		err = w.l.Warning(eventID, msg)
	default:
		err = w.l.Info(eventID, msg)
	}
	if err != nil {
		return 0, fmt.Errorf("service: write event log: %w", err)
	}
	return len(p), nil
}

func (w eventWriter) Close() error { return w.l.Close() }
