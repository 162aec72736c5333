package poll

import (
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// Metrics receives scheduler events, for the Prometheus exporter. Every
// method is called from a device goroutine (or from Write's caller for
// WriteDone when the write failed before reaching the device) and must not
// block. A nil Metrics in Options disables the hooks.
type Metrics interface {
	// ScanDone is called after every scan of a scan class, failed or not.
	ScanDone(dev string, d time.Duration)
	// ReadError is called once per failed scan, class "connection",
	// "timeout" or "error", and once per Bad point of a successful scan,
	// class "config", "device", "range", "communication" or "point".
	ReadError(dev, class string)
	// Reconnect is called each time a device is opened again after a loss
	// of connection, a failed open or a demotion.
	Reconnect(dev string)
	// Demoted is called when a device is demoted.
	Demoted(dev string)
	// WriteDone is called once per client write with its outcome (Good
	// or the Bad quality the client receives).
	WriteDone(dev string, q drivers.Quality)
}

type noMetrics struct{}

func (noMetrics) ScanDone(string, time.Duration)    {}
func (noMetrics) ReadError(string, string)          {}
func (noMetrics) Reconnect(string)                  {}
func (noMetrics) Demoted(string)                    {}
func (noMetrics) WriteDone(string, drivers.Quality) {}

// pointClass names the class of a Bad point for Metrics.ReadError.
func pointClass(q drivers.Quality) string {
	switch q {
	case drivers.BadConfigurationError:
		return "config"
	case drivers.BadDeviceFailure, drivers.BadSensorFailure:
		return "device"
	case drivers.BadOutOfRange:
		return "range"
	case drivers.BadCommunicationError, drivers.BadTimeout, drivers.BadNoCommunication, drivers.BadNotConnected:
		return "communication"
	}
	return "point"
}
