package modbus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// Transports the driver speaks (option `transport`).
const (
	TransportTCP        = "tcp"
	TransportRTU        = "rtu"
	TransportASCII      = "ascii"
	TransportRTUOverTCP = "rtu_over_tcp"
	TransportUDP        = "udp"
	TransportTLS        = "tls"
)

var transports = []string{TransportTCP, TransportRTU, TransportASCII, TransportRTUOverTCP, TransportUDP, TransportTLS}

// options is a device's decoded `options:` block. Every key is documented in
// docs/modbus.md (Transports).
type options struct {
	transport                  string
	address                    string // host:port (tcp, udp, tls, rtu_over_tcp)
	serial                     serialSettings
	unit                       uint8
	timeout                    time.Duration
	order                      Order
	limits                     Limits
	forceMulti                 bool          // FC15/FC16 even for one coil/register
	delay                      time.Duration // quiet time on the line after each transaction
	nan                        string        // bad | zero | keep; applied by mapping
	timeoutsBeforeReconnect    int
	reconnectMin, reconnectMax time.Duration
	tlsFiles                   tlsFiles
	tlsCert                    *tls.Certificate
	tlsCAs                     *x509.CertPool
}

// serialSettings must match between all devices sharing one serial port.
type serialSettings struct {
	port     string
	baud     int
	dataBits int
	parity   string // N, E or O
	stopBits int
}

type tlsFiles struct{ cert, key, ca string }

func (o options) isSerial() bool {
	return o.transport == TransportRTU || o.transport == TransportASCII
}

// onSerialLine reports whether the unit id addresses a device on an RS-485
// line (directly or through an RTU-over-TCP converter), where 0 is broadcast.
func (o options) onSerialLine() bool { return o.isSerial() || o.transport == TransportRTUOverTCP }

// linkKey names the physical link: devices with the same key share one
// connection and one arbiter goroutine.
func (o options) linkKey() string {
	if o.isSerial() {
		return "serial " + o.serial.port
	}
	return o.transport + " " + o.address
}

// optionKeys lists every key Open accepts.
var optionKeys = []string{
	"transport", "address", "port", "baud", "data_bits", "parity", "stop_bits", "unit_id", "timeout",
	"byte_order", "max_registers", "max_bits", "max_gap", "force_multiple_writes", "inter_request_delay",
	"nan", "timeouts_before_reconnect", "reconnect_min", "reconnect_max", "cert", "key", "ca",
}

var serialKeys = []string{"port", "baud", "data_bits", "parity", "stop_bits"}

// parseOptions decodes opts strictly: an unknown key, a value of the wrong
// type or out of range is an error naming the key. All problems are
// reported at once.
func parseOptions(opts map[string]any) (options, error) {
	o := options{
		transport:               TransportTCP,
		serial:                  serialSettings{baud: 19200, dataBits: 8, parity: "N", stopBits: 1},
		unit:                    1,
		timeout:                 time.Second,
		order:                   ABCD,
		limits:                  DefaultLimits(),
		nan:                     "bad",
		timeoutsBeforeReconnect: 3,
		reconnectMin:            500 * time.Millisecond,
		reconnectMax:            30 * time.Second,
	}
	d := drivers.NewOptions(opts, optionKeys...)
	fail := d.Fail
	d.String("transport", &o.transport)
	o.transport = strings.ToLower(o.transport)
	if !slices.Contains(transports, o.transport) {
		fail("transport", "unknown transport %q (want one of %s)", o.transport, strings.Join(transports, ", "))
	}
	d.String("address", &o.address)
	d.String("port", &o.serial.port)
	d.Int("baud", &o.serial.baud, 50, 4_000_000)
	d.Int("data_bits", &o.serial.dataBits, 5, 8)
	d.Int("stop_bits", &o.serial.stopBits, 1, 2)
	if d.String("parity", &o.serial.parity) {
		switch strings.ToLower(o.serial.parity) {
		case "n", "none":
			o.serial.parity = "N"
		case "e", "even":
			o.serial.parity = "E"
		case "o", "odd":
			o.serial.parity = "O"
		default:
			fail("parity", "want N, E or O (none, even, odd), got %q", o.serial.parity)
		}
	}
	unit := int(o.unit)
	if d.Int("unit_id", &unit, 0, 255) {
		o.unit = uint8(unit)
	}
	d.Duration("timeout", &o.timeout, time.Millisecond, drivers.MaxDuration)
	var order string
	if d.String("byte_order", &order) {
		var err error
		if o.order, err = ParseOrder(order); err != nil {
			fail("byte_order", "%v", err)
		}
	}
	d.Int("max_registers", &o.limits.MaxRegisters, 1, LimitRegisters)
	d.Int("max_bits", &o.limits.MaxBits, 1, LimitBits)
	d.Int("max_gap", &o.limits.MaxGap, 0, math.MaxUint16)
	d.Bool("force_multiple_writes", &o.forceMulti)
	d.Duration("inter_request_delay", &o.delay, 0, drivers.MaxDuration)
	if d.String("nan", &o.nan) {
		o.nan = strings.ToLower(o.nan)
		if o.nan != "bad" && o.nan != "zero" && o.nan != "keep" {
			fail("nan", "want bad, zero or keep, got %q", o.nan)
		}
	}
	d.Int("timeouts_before_reconnect", &o.timeoutsBeforeReconnect, 1, 1000)
	d.Duration("reconnect_min", &o.reconnectMin, time.Millisecond, drivers.MaxDuration)
	d.Duration("reconnect_max", &o.reconnectMax, time.Millisecond, drivers.MaxDuration)
	if o.reconnectMax < o.reconnectMin {
		fail("reconnect_max", "%s is less than reconnect_min %s", o.reconnectMax, o.reconnectMin)
	}
	d.String("cert", &o.tlsFiles.cert)
	d.String("key", &o.tlsFiles.key)
	d.String("ca", &o.tlsFiles.ca)

	// Keys that do not apply to the transport are mistakes (a serial port
	// on a TCP device is a copy-paste slip), so they are errors too.
	switch {
	case o.isSerial():
		if o.serial.port == "" {
			fail("port", "required for transport %s (e.g. /dev/ttyUSB0, COM3)", o.transport)
		}
		if _, ok := opts["address"]; ok {
			fail("address", "not used by transport %s: set port", o.transport)
		}
	default:
		if o.address == "" {
			fail("address", "required for transport %s (host:port)", o.transport)
		} else if _, _, err := net.SplitHostPort(o.address); err != nil {
			fail("address", "want host:port, got %q", o.address)
		}
		for _, k := range serialKeys {
			if _, ok := opts[k]; ok && !(o.transport == TransportRTUOverTCP && k == "baud") {
				fail(k, "only for serial transports (rtu, ascii), not %s", o.transport)
			}
		}
	}
	if o.transport != TransportTLS {
		for _, k := range []string{"cert", "key", "ca"} {
			if _, ok := opts[k]; ok {
				fail(k, "only for transport tls, not %s", o.transport)
			}
		}
	}
	switch {
	case o.onSerialLine() && o.unit == 0:
		fail("unit_id", "0 is the broadcast address on a serial line: no device answers it (want 1..247)")
	case o.onSerialLine() && o.unit > 247:
		fail("unit_id", "%d out of range 1..247", o.unit)
	case !o.onSerialLine() && o.unit > 247 && o.unit != 255:
		fail("unit_id", "%d out of range 0..247 or 255", o.unit)
	}
	errs := []error{d.Err()}
	if o.transport == TransportTLS {
		errs = append(errs, o.loadTLS()...)
	}
	return o, errors.Join(errs...)
}

// loadTLS reads the client certificate, key and CA files. Reading local
// files is not network I/O, so Open does it to fail early with the file name.
func (o *options) loadTLS() []error {
	var errs []error
	f := o.tlsFiles
	if f.cert == "" || f.key == "" || f.ca == "" {
		return []error{errors.New(`option "cert", "key", "ca": transport tls needs a client certificate, its key and the CA (or server) certificate, all PEM files`)}
	}
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		errs = append(errs, fmt.Errorf("option \"cert\"/\"key\": load %s and %s: %w", f.cert, f.key, err))
	} else {
		o.tlsCert = &cert
	}
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		return append(errs, fmt.Errorf("option \"ca\": %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return append(errs, fmt.Errorf("option \"ca\": %s holds no PEM certificate", f.ca))
	}
	o.tlsCAs = pool
	return errs
}
