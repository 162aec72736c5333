package modbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	gb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// asciiLink runs Modbus ASCII: goburrow/modbus encodes and checks the frames
// (its ASCII packager, with the LRC), and asciiPort below moves the bytes.
// goburrow's own serial transporter is not used: it neither drops stale
// bytes nor resynchronises on the ':' start mark, so one burst of line noise
// would fail the next request too.
type asciiLink struct {
	cfg    linkConfig
	pack   *gb.ASCIIClientHandler // used as the Packager only
	port   *asciiPort
	client gb.Client
}

func newASCIILink(c linkConfig) *asciiLink { return &asciiLink{cfg: c} }

func (l *asciiLink) open(ctx context.Context) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	_ = l.close()
	s := l.cfg.serial
	p, err := serial.Open(&serial.Config{
		Address:  s.port,
		BaudRate: s.baud,
		DataBits: s.dataBits,
		StopBits: s.stopBits,
		Parity:   s.parity,
		// Short reads: the transaction deadline is enforced by asciiPort.
		Timeout: 20 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	l.port = &asciiPort{port: p, timeout: l.cfg.timeout, dirty: true}
	l.pack = gb.NewASCIIClientHandler(s.port)
	l.client = gb.NewClient2(l.pack, l.port)
	return nil
}

func (l *asciiLink) close() error {
	if l.port == nil {
		return nil
	}
	err := l.port.port.Close()
	l.port, l.client = nil, nil
	return err
}

func (l *asciiLink) prepare(ctx context.Context, unit uint8) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	if l.port == nil {
		return errors.New("not connected")
	}
	l.pack.SlaveId = unit
	l.port.deadline = time.Now().Add(l.cfg.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(l.port.deadline) {
		l.port.deadline = d
	}
	return nil
}

func (l *asciiLink) readRegisters(ctx context.Context, unit, fc uint8, addr, qty uint16) ([]uint16, error) {
	if err := l.prepare(ctx, unit); err != nil {
		return nil, err
	}
	var b []byte
	var err error
	if fc == 4 {
		b, err = l.client.ReadInputRegisters(addr, qty)
	} else {
		b, err = l.client.ReadHoldingRegisters(addr, qty)
	}
	if err = l.check(err); err != nil {
		return nil, err
	}
	if len(b) != 2*int(qty) {
		l.port.dirty = true
		return nil, fmt.Errorf("%w: %d data bytes for %d registers", errFrame, len(b), qty)
	}
	return wordsFromBytes(b), nil
}

func (l *asciiLink) readBits(ctx context.Context, unit, fc uint8, addr, qty uint16) ([]bool, error) {
	if err := l.prepare(ctx, unit); err != nil {
		return nil, err
	}
	var b []byte
	var err error
	if fc == 2 {
		b, err = l.client.ReadDiscreteInputs(addr, qty)
	} else {
		b, err = l.client.ReadCoils(addr, qty)
	}
	if err = l.check(err); err != nil {
		return nil, err
	}
	if len(b) != (int(qty)+7)/8 {
		l.port.dirty = true
		return nil, fmt.Errorf("%w: %d data bytes for %d bits", errFrame, len(b), qty)
	}
	return bitsFromBytes(b, int(qty)), nil
}

func (l *asciiLink) writeRegisters(ctx context.Context, unit, fc uint8, addr uint16, values []uint16) error {
	if err := l.prepare(ctx, unit); err != nil {
		return err
	}
	var err error
	if fc == 6 && len(values) == 1 {
		_, err = l.client.WriteSingleRegister(addr, values[0])
	} else {
		_, err = l.client.WriteMultipleRegisters(addr, uint16(len(values)), bytesFromWords(values))
	}
	return l.check(err)
}

func (l *asciiLink) writeBits(ctx context.Context, unit, fc uint8, addr uint16, values []bool) error {
	if err := l.prepare(ctx, unit); err != nil {
		return err
	}
	var err error
	if fc == 5 && len(values) == 1 {
		v := uint16(0)
		if values[0] {
			v = 0xFF00
		}
		_, err = l.client.WriteSingleCoil(addr, v)
	} else {
		_, err = l.client.WriteMultipleCoils(addr, uint16(len(values)), bytesFromBits(values))
	}
	return l.check(err)
}

// check maps goburrow's errors: a *ModbusError is an exception; errors of
// the port keep their meaning; anything else the client or packager says
// ("response lrc ... does not match", "slave id ... does not match") is a
// bad frame. After any failure the port drops what is left on the line.
func (l *asciiLink) check(err error) error {
	if err == nil {
		return nil
	}
	var me *gb.ModbusError
	if errors.As(err, &me) {
		return Exception{Code: me.ExceptionCode}
	}
	l.port.dirty = true
	var pe *portError
	if errors.As(err, &pe) {
		return pe.err
	}
	if errors.Is(err, errTimeout) {
		return err
	}
	return fmt.Errorf("%w: %v", errFrame, err)
}

// portError carries an I/O error of the serial port through goburrow's
// client untouched.
type portError struct{ err error }

func (e *portError) Error() string { return e.err.Error() }
func (e *portError) Unwrap() error { return e.err }

// asciiPort is the goburrow Transporter for ASCII frames on a serial port.
type asciiPort struct {
	port     io.ReadWriteCloser
	timeout  time.Duration
	deadline time.Time
	dirty    bool // a failed transaction may have left bytes on the line
}

const asciiMaxFrame = 513

// Send writes one request frame and returns the reply frame: the bytes from
// the last ':' before the first CR LF that follows it. Bytes before that ':'
// are line noise or a stale reply and are dropped.
func (p *asciiPort) Send(req []byte) ([]byte, error) {
	if p.dirty {
		p.drain()
		p.dirty = false
	}
	if _, err := p.port.Write(req); err != nil {
		return nil, &portError{err}
	}
	var buf []byte
	chunk := make([]byte, 256)
	for {
		if time.Now().After(p.deadline) {
			return nil, errTimeout
		}
		n, err := p.port.Read(chunk)
		if err != nil && !errors.Is(err, serial.ErrTimeout) {
			return nil, &portError{err}
		}
		buf = append(buf, chunk[:n]...)
		if start := bytes.LastIndexByte(buf, ':'); start >= 0 {
			if end := bytes.Index(buf[start:], []byte("\r\n")); end >= 0 {
				return buf[start : start+end+2], nil
			}
			buf = buf[start:]
		} else {
			buf = buf[:0]
		}
		if len(buf) > asciiMaxFrame {
			return nil, fmt.Errorf("%w: no end of frame in %d bytes", errFrame, len(buf))
		}
	}
}

// drain reads and drops whatever is waiting on the line, for at most a
// short, bounded time.
func (p *asciiPort) drain() {
	chunk := make([]byte, 256)
	for range 64 {
		n, err := p.port.Read(chunk)
		if n == 0 || err != nil {
			return
		}
	}
}
