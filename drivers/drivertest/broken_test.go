//go:build drivertest_broken

package drivertest_test

import "testing"

// These tests show that the suite catches each contract violation: every
// one of them must FAIL. Run them by hand after changing the suite:
//
//	go test -tags drivertest_broken ./drivers/drivertest/ -run TestBroken -v 2>&1 | grep -E '^(--- |    --- )'
//
// and check that each TestBroken/<bug> fails (in the subtest named after the
// contract it breaks).
func TestBroken(t *testing.T) {
	for name, b := range map[string]bugs{
		"skipSlot":    {skipSlot: true},
		"wrongType":   {wrongType: true},
		"batchError":  {batchError: true},
		"closeTwice":  {closeTwice: true},
		"panicClosed": {panicClosed: true},
		"ignoreCtx":   {ignoreCtx: true},
		"leak":        {leak: true},
		"lostWrite":   {lostWrite: true},
		"noTime":      {noTime: true},
		"staleValue":  {staleValue: true},
	} {
		t.Run(name, suiteFor(b).Run)
	}
}
