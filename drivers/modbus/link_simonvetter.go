package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	sv "github.com/simonvetter/modbus"
)

// svLink runs tcp, rtu, rtu_over_tcp, udp and tls on simonvetter/modbus. The
// library does not reconnect after the peer goes away, so open always builds
// a fresh client (close + open is the reconnect).
type svLink struct {
	cfg    linkConfig
	client *sv.ModbusClient
}

func newSVLink(c linkConfig) *svLink { return &svLink{cfg: c} }

func (l *svLink) open(ctx context.Context) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	_ = l.close()
	conf := &sv.ClientConfiguration{
		Timeout: l.cfg.timeout,
		// The library logs every retry to stdout by default; the driver
		// reports through its errors instead.
		Logger: log.New(io.Discard, "", 0),
	}
	switch l.cfg.transport {
	case TransportTCP:
		conf.URL = "tcp://" + l.cfg.address
	case TransportUDP:
		conf.URL = "udp://" + l.cfg.address
	case TransportTLS:
		conf.URL = "tcp+tls://" + l.cfg.address
		conf.TLSClientCert, conf.TLSRootCAs = l.cfg.tlsCert, l.cfg.tlsCAs
	case TransportRTUOverTCP:
		conf.URL = "rtuovertcp://" + l.cfg.address
		conf.Speed = uint(l.cfg.serial.baud) // for the inter-frame delay
	case TransportRTU:
		s := l.cfg.serial
		conf.URL = "rtu://" + s.port
		conf.Speed, conf.DataBits = uint(s.baud), uint(s.dataBits)
		// Always explicit: the library picks 2 stop bits when parity is
		// none and StopBits is 0, which most 8N1 devices reject.
		conf.StopBits = uint(s.stopBits)
		switch s.parity {
		case "E":
			conf.Parity = sv.PARITY_EVEN
		case "O":
			conf.Parity = sv.PARITY_ODD
		default:
			conf.Parity = sv.PARITY_NONE
		}
	default:
		return fmt.Errorf("%w: transport %q", errRequest, l.cfg.transport)
	}
	c, err := sv.NewClient(conf)
	if err != nil {
		return fmt.Errorf("%w: %v", errRequest, err)
	}
	if err := c.Open(); err != nil {
		// A failed Open may leave a half-built transport behind.
		_ = c.Close()
		return err
	}
	l.client = c
	return nil
}

func (l *svLink) close() error {
	if l.client == nil {
		return nil
	}
	err := l.client.Close()
	l.client = nil
	return err
}

// prepare checks the caller and sets the unit id. Only the arbiter's
// goroutine uses the client, so the unit id set here is the one sent.
func (l *svLink) prepare(ctx context.Context, unit uint8) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	if l.client == nil {
		return errors.New("not connected")
	}
	return l.client.SetUnitId(unit)
}

func (l *svLink) readRegisters(ctx context.Context, unit, fc uint8, addr, qty uint16) ([]uint16, error) {
	if err := l.prepare(ctx, unit); err != nil {
		return nil, err
	}
	rt := sv.HOLDING_REGISTER
	if fc == 4 {
		rt = sv.INPUT_REGISTER
	}
	// ReadRegisters with the client's default big-endian setting returns
	// the words as they are on the wire; the codec applies the order.
	w, err := l.client.ReadRegisters(addr, qty, rt)
	return w, svError(err)
}

func (l *svLink) readBits(ctx context.Context, unit, fc uint8, addr, qty uint16) ([]bool, error) {
	if err := l.prepare(ctx, unit); err != nil {
		return nil, err
	}
	var v []bool
	var err error
	if fc == 2 {
		v, err = l.client.ReadDiscreteInputs(addr, qty)
	} else {
		v, err = l.client.ReadCoils(addr, qty)
	}
	return v, svError(err)
}

func (l *svLink) writeRegisters(ctx context.Context, unit, fc uint8, addr uint16, values []uint16) error {
	if err := l.prepare(ctx, unit); err != nil {
		return err
	}
	if fc == 6 && len(values) == 1 {
		return svError(l.client.WriteRegister(addr, values[0]))
	}
	return svError(l.client.WriteRegisters(addr, values))
}

func (l *svLink) writeBits(ctx context.Context, unit, fc uint8, addr uint16, values []bool) error {
	if err := l.prepare(ctx, unit); err != nil {
		return err
	}
	if fc == 5 && len(values) == 1 {
		return svError(l.client.WriteCoil(addr, values[0]))
	}
	return svError(l.client.WriteCoils(addr, values))
}

// svError maps the library's errors to the link's normalised ones.
func svError(err error) error {
	if err == nil {
		return nil
	}
	var e sv.Error
	if errors.As(err, &e) {
		switch e {
		case sv.ErrIllegalFunction:
			return Exception{Code: 1}
		case sv.ErrIllegalDataAddress:
			return Exception{Code: 2}
		case sv.ErrIllegalDataValue:
			return Exception{Code: 3}
		case sv.ErrServerDeviceFailure:
			return Exception{Code: 4}
		case sv.ErrAcknowledge:
			return Exception{Code: 5}
		case sv.ErrServerDeviceBusy:
			return Exception{Code: 6}
		case sv.ErrMemoryParityError:
			return Exception{Code: 8}
		case sv.ErrGWPathUnavailable:
			return Exception{Code: 10}
		case sv.ErrGWTargetFailedToRespond:
			return Exception{Code: 11}
		case sv.ErrRequestTimedOut:
			return errTimeout
		case sv.ErrProtocolError:
			// The frame itself was sound (MBAP length / CRC checked), but
			// its PDU does not match the request: a short or empty reply
			// (jsmodbus answers reads past its memory so), or a wrong
			// function code. A per-request problem, not a broken link.
			return fmt.Errorf("%w: reply does not match the request (%s)", errShortReply, e)
		case sv.ErrBadCRC, sv.ErrShortFrame, sv.ErrBadUnitId,
			sv.ErrBadTransactionId, sv.ErrUnknownProtocolId:
			return fmt.Errorf("%w: %s", errFrame, e)
		case sv.ErrUnexpectedParameters, sv.ErrConfigurationError:
			return fmt.Errorf("%w: %s", errRequest, e)
		}
	}
	// An exception code the library does not name comes back as a plain
	// formatted error.
	var code uint8
	if _, scanErr := fmt.Sscanf(err.Error(), "unknown exception code (%d)", &code); scanErr == nil {
		return Exception{Code: code}
	}
	if os.IsTimeout(err) || errors.Is(err, os.ErrDeadlineExceeded) {
		return errTimeout
	}
	return err
}
