package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
)

// fakeDriver accepts the options "fail" (Open error) and "nan" (as every
// driver must), checks that addresses start with "ok", and counts Closes.
type fakeDriver struct{ opened, closed atomic.Int32 }

type fakeDevice struct{ d *fakeDriver }

type fakeWriter struct{ fakeDevice }

func (d *fakeDriver) Open(_ context.Context, name string, opts map[string]any) (drivers.Device, error) {
	for k := range opts {
		if k != "nan" && k != "fail" && k != "writable" {
			return nil, fmt.Errorf("fake %s: unknown option %q", name, k)
		}
	}
	if opts["fail"] == true {
		return nil, fmt.Errorf("fake %s: told to fail", name)
	}
	d.opened.Add(1)
	if opts["writable"] == true {
		return &fakeWriter{fakeDevice{d}}, nil
	}
	return &fakeDevice{d}, nil
}

func (f *fakeDevice) Read(context.Context, []drivers.Address, []drivers.Sample) error { return nil }
func (f *fakeDevice) Close() error                                                    { f.d.closed.Add(1); return nil }
func (f *fakeDevice) Check(a drivers.Address) error {
	if !strings.HasPrefix(a.Addr, "ok") {
		return errors.New("bad address " + a.Addr)
	}
	if a.Tag == "" || a.Type == drivers.Invalid {
		return errors.New("address without tag path or type")
	}
	return nil
}
func (f *fakeWriter) Write(context.Context, drivers.Address, any) error { return nil }

var (
	_ drivers.Checker = (*fakeDevice)(nil)
	_ drivers.Writer  = (*fakeWriter)(nil)
)

var fake = &fakeDriver{}

func init() { drivers.Register("mappingtest-fake", fake) }

func TestCheckDrivers(t *testing.T) {
	// not parallel: counts opens and closes of the shared fake driver
	cfg := &config.Config{Devices: []config.Device{
		{Name: "a", Driver: "mappingtest-fake", Options: map[string]any{"nan": "keep"}, Tags: []config.Tag{
			{Name: "x", Address: "ok1", Type: "int16"},
			{Name: "y", Address: "nope", Type: "int16"},
			{Name: "z", Address: "nope", Type: "flaot32"}, // Compile's error, not repeated
			{Name: "w", Address: "ok2", Type: "int16", Access: "readwrite"},
		}},
		{Name: "b", Driver: "mappingtest-nope"},
		{Name: "c", Driver: "mappingtest-fake", Options: map[string]any{"fail": true}},
		{Name: "d", Driver: ""},
		{Name: "e", Driver: "mappingtest-fake", Options: map[string]any{"writable": true}, Tags: []config.Tag{
			{Name: "w", Address: "ok", Type: "float32", Access: "readwrite"},
		}},
	}}
	o, c := fake.opened.Load(), fake.closed.Load()
	errs := CheckDrivers(context.Background(), cfg)
	want := []string{
		"devices[0].tags[1].address: bad address nope",
		`devices[0].tags[3].access: driver "mappingtest-fake" does not support writes`,
		`devices[1].driver: unknown driver "mappingtest-nope"`,
		"devices[2].options: fake c: told to fail",
		"devices[3].driver: must not be empty",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors:\n%v", len(errs), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
		}
	}
	if opened, closed := fake.opened.Load()-o, fake.closed.Load()-c; opened != 2 || closed != 2 {
		t.Errorf("opened %d closed %d", opened, closed)
	}
	cfg.Devices = []config.Device{cfg.Devices[4]}
	if errs := CheckDrivers(context.Background(), cfg); errs != nil {
		t.Errorf("clean config: %v", errs)
	}
}
