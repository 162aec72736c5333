package service

import (
	"context"
	"errors"
)

// request is a service control, translated from the SCM's so that the
// supervision logic is the same code, and tested, on every OS.
type request int

const (
	reqInterrogate request = iota
	reqStop                // Stop or Shutdown
	reqParamChange         // `sc.exe control <name> paramchange`: reload, as SIGHUP
)

// state is what the service reports to the SCM.
type state int

const (
	stateStartPending state = iota
	stateRunning
	stateStopPending
)

// supervise runs run until it returns, cancelling its context on the first
// stop request. It reports every state change (and the current state again
// on interrogate) through report, and calls reload, if set, on a param
// change. It returns run's error; a context.Canceled after a stop request is
// a clean stop (nil).
func supervise(run func(ctx context.Context) error, reqs <-chan request, report func(state), reload func()) error {
	report(stateStartPending)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	cur := stateRunning
	report(cur)
	for {
		select {
		case err := <-done:
			if cur == stateStopPending && errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		case r, ok := <-reqs:
			if !ok { // the SCM went away: stop as on a Stop control
				reqs, r = nil, reqStop
			}
			switch r {
			case reqInterrogate:
				report(cur)
			case reqStop:
				if cur != stateStopPending {
					cur = stateStopPending
					report(cur)
					cancel()
				}
			case reqParamChange:
				if reload != nil && cur == stateRunning {
					reload()
				}
				report(cur)
			}
		}
	}
}
