package modbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagbridge/tagbridge/drivers"
)

// Exception is a Modbus exception response: the device answered, but refused
// the request. Code is the exception code (2 = illegal data address).
type Exception struct {
	Code uint8
}

var exceptionNames = map[uint8]string{
	1:  "illegal function",
	2:  "illegal data address",
	3:  "illegal data value",
	4:  "server device failure",
	5:  "acknowledge",
	6:  "server device busy",
	8:  "memory parity error",
	10: "gateway path unavailable",
	11: "gateway target device failed to respond",
}

func (e Exception) Error() string {
	name, ok := exceptionNames[e.Code]
	if !ok {
		name = "unknown exception"
	}
	return fmt.Sprintf("exception %d (%s)", e.Code, name)
}

// Quality is the quality of the points of a request that got this exception
// (DESIGN.md section 7). Exception 1 (illegal function) and 2 (illegal data
// address) mean the configuration asks for something the device does not
// have; 10 and 11 mean a gateway could not reach the device behind it; every
// other code is the device's own failure.
func (e Exception) Quality() drivers.Quality {
	switch e.Code {
	case 1, 2:
		return drivers.BadConfigurationError
	case 10, 11:
		return drivers.BadCommunicationError
	}
	return drivers.BadDeviceFailure
}

// Sentinels the links return (wrapped), so that the arbiter and the device
// classify errors the same way whatever library is underneath.
var (
	// errTimeout: the device did not answer within the timeout.
	errTimeout = errors.New("request timed out")
	// errFrame: a reply arrived but was malformed (bad CRC/LRC, short frame,
	// wrong unit id, garbage on the line).
	errFrame = errors.New("bad frame")
	// errShortReply: a well-formed normal reply with fewer values than
	// asked for. Some servers (jsmodbus) answer a read past their memory
	// this way instead of with exception 2: it is a per-request problem,
	// like an exception, not a broken link.
	errShortReply = errors.New("short reply")
	// errRequest: the library refused the request before sending it.
	errRequest = errors.New("invalid request")
	// errLinkClosed: the link was closed while the request waited.
	errLinkClosed = errors.New("link closed")
	// errUnitBackedOff: the unit id timed out recently on a shared line and
	// is skipped for a while so the other unit ids keep their scan rate.
	errUnitBackedOff = errors.New("unit backed off")
)

// errClass says what an error means for the link and the points.
type errClass uint8

const (
	classOK        errClass = iota
	classException          // the device answered with an exception
	classTimeout            // no answer in time (or unit backed off)
	classFrame              // malformed reply
	classRequest            // refused locally (bad quantity, closed link)
	classCanceled           // the caller's context ended
	classConn               // the connection is unusable: reopen
)

func (c errClass) String() string {
	return [...]string{"ok", "exception", "timeout", "frame", "request", "canceled", "connection"}[c]
}

// classify maps an error returned through a link to its class. Anything not
// recognised is a connection error: the safe reaction to an unknown I/O
// failure is to reopen the connection.
func classify(err error) errClass {
	if err == nil {
		// Before exc exists: errors.As makes it escape, and a read that
		// succeeded should not pay an allocation to be classified.
		return classOK
	}
	var exc Exception
	switch {
	case errors.As(err, &exc), errors.Is(err, errShortReply):
		return classException // the device answered: the link is fine
	case errors.Is(err, errTimeout), errors.Is(err, errUnitBackedOff):
		return classTimeout
	case errors.Is(err, errFrame):
		return classFrame
	case errors.Is(err, errRequest), errors.Is(err, errLinkClosed):
		return classRequest
	case isCanceled(err):
		return classCanceled
	}
	return classConn
}

func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// connError marks an error that made the link drop its connection. It
// unwraps to both the cause and drivers.ErrBadConn, so the scheduler reopens
// the device with backoff.
type connError struct{ err error }

func (e *connError) Error() string   { return "connection: " + e.err.Error() }
func (e *connError) Unwrap() []error { return []error{e.err, drivers.ErrBadConn} }

// pointError is the error of one point: which request failed and why, with
// the Quality the point should show.
func pointError(q drivers.Quality, err error) error {
	return &drivers.QualityError{Quality: q, Err: err}
}

// qualityOf is the Quality points get when their request failed with err.
func qualityOf(err error) drivers.Quality {
	var exc Exception
	switch classify(err) {
	case classOK:
		return drivers.Good
	case classException:
		errors.As(err, &exc)
		return exc.Quality()
	case classRequest:
		return drivers.BadConfigurationError
	}
	return drivers.BadCommunicationError
}
