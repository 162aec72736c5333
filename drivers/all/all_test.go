package all_test

import (
	"slices"
	"testing"

	"github.com/tagbridge/tagbridge/drivers"
	_ "github.com/tagbridge/tagbridge/drivers/all"
)

// TestEveryDriverRegistered guards the contract of DESIGN.md section 5:
// a config may name any of these drivers.
func TestEveryDriverRegistered(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"modbus", "mtconnect", "sim"} {
		if _, err := drivers.Lookup(name); err != nil {
			t.Errorf("driver %q: %v", name, err)
		}
	}
	if n := drivers.Names(); !slices.IsSorted(n) {
		t.Errorf("Names() = %v, not sorted", n)
	}
}
