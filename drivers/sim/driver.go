package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

func init() { drivers.Register("sim", Driver{}) }

// Driver opens simulated devices. The zero value is ready to use.
type Driver struct {
	// now is the clock of the devices it opens; nil means time.Now. Tests
	// set it to move waves without sleeping.
	now func() time.Time
}

var _ drivers.Driver = Driver{}

// Open decodes opts strictly (see docs/sim.md) and returns an independent
// device: no state is shared between two Opens. It does no I/O and ignores
// ctx.
func (d Driver) Open(_ context.Context, name string, opts map[string]any) (drivers.Device, error) {
	o, err := decodeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("sim %s: %w", name, err)
	}
	now := d.now
	if now == nil {
		now = time.Now
	}
	return &device{name: name, opt: o, now: now, start: now(), state: map[key]*state{}}, nil
}
