package gateway

import (
	"context"
	"fmt"
	"io"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/modbus"
)

// InputError marks a probe that failed on its arguments (address, count,
// options) before any I/O: bad input, not a runtime failure.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// ProbeModbus reads count registers (or bits) from start once, through the
// modbus driver with the given device options, and prints every decoding of
// the words so a user can pick the type and byte order in one look.
func ProbeModbus(ctx context.Context, opts map[string]any, start string, count int, w io.Writer) error {
	table, addr, bit, err := modbus.ParseAddress(start)
	if err != nil {
		return &InputError{err}
	}
	if bit >= 0 {
		return &InputError{fmt.Errorf("probe: start %q: give a register, not a bit", start)}
	}
	maxCount := 125
	if table.IsBits() {
		maxCount = 2000
	}
	if count < 1 || count > maxCount || int(addr)+count > 65536 {
		return &InputError{fmt.Errorf("probe: count %d: want 1..%d within the 65536 addresses", count, maxCount)}
	}
	drv, err := drivers.Lookup("modbus")
	if err != nil {
		return err
	}
	dev, err := drv.Open(ctx, "probe", opts)
	if err != nil { // Open does no I/O: its errors are about the options
		return &InputError{err}
	}
	defer dev.Close()

	typ := drivers.Uint16
	if table.IsBits() {
		typ = drivers.Bool
	}
	addrs := make([]drivers.Address, count)
	for i := range addrs {
		a := fmt.Sprintf("%s:%d", table, int(addr)+i)
		addrs[i] = drivers.Address{Tag: a, Addr: a, Type: typ}
	}
	out := make([]drivers.Sample, count)
	if err := dev.Read(ctx, addrs, out); err != nil {
		return fmt.Errorf("probe: read %s:%d x%d (fc%d): %w", table, addr, count, table.ReadFunction(), err)
	}
	words := make([]uint16, count)
	for i, s := range out {
		if !s.Quality.IsGood() {
			return fmt.Errorf("probe: %s: %v (%v)", addrs[i].Addr, s.Quality, s.Err)
		}
		switch v := s.Value.(type) {
		case uint16:
			words[i] = v
		case bool:
			if v {
				words[i] = 1
			}
		}
	}
	return modbus.WriteDecodings(w, table, addr, words)
}
