package drivers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
)

type fakeDriver struct{}

func (fakeDriver) Open(context.Context, string, map[string]any) (drivers.Device, error) {
	return nil, nil
}

// mustPanic runs f and returns the panic value, failing when f returns.
func mustPanic(t *testing.T, f func()) (v any) {
	t.Helper()
	defer func() { v = recover() }()
	f()
	t.Fatal("did not panic")
	return nil
}

// The registry is process-wide and lives as long as the test binary (which
// -count=N reuses), so every test registers names no other run has used.
var seq atomic.Int64

func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

func TestRegisterLookup(t *testing.T) {
	t.Parallel()
	name := uniq("regtest-lookup")
	drivers.Register(name, fakeDriver{})
	d, err := drivers.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(fakeDriver); !ok {
		t.Errorf("Lookup returned %T", d)
	}
	if n := drivers.Names(); !slices.Contains(n, name) || !slices.IsSorted(n) {
		t.Errorf("Names() = %v, want it sorted and holding regtest-lookup", n)
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	t.Parallel()
	name := uniq("regtest-dup")
	drivers.Register(name, fakeDriver{})
	v := mustPanic(t, func() { drivers.Register(name, fakeDriver{}) })
	if s, _ := v.(string); !strings.Contains(s, name) {
		t.Errorf("panic %v does not name the driver", v)
	}
	if _, err := drivers.Lookup(name); err != nil {
		t.Errorf("the first registration was lost: %v", err)
	}
}

func TestRegisterInvalidPanics(t *testing.T) {
	t.Parallel()
	mustPanic(t, func() { drivers.Register("", fakeDriver{}) })
	mustPanic(t, func() { drivers.Register("regtest-nil", nil) })
	if _, err := drivers.Lookup("regtest-nil"); err == nil {
		t.Error("a nil driver was registered")
	}
}

func TestLookupUnknown(t *testing.T) {
	t.Parallel()
	a, b := uniq("regtest-known-a"), uniq("regtest-known-b")
	drivers.Register(a, fakeDriver{})
	drivers.Register(b, fakeDriver{})
	_, err := drivers.Lookup("modbsu")
	if err == nil {
		t.Fatal("Lookup of an unknown driver returned no error")
	}
	msg := err.Error()
	for _, want := range []string{`unknown driver "modbsu"`, a, b, "drivers/all"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}
