package drivers

import (
	"fmt"
	"sort"
	"sync"
)

// The registry is the only package-level mutable state in Tagbridge.
var (
	regMu    sync.RWMutex
	registry = map[string]Driver{}
)

// Register makes a driver available under name. It panics if name is empty,
// d is nil, or name is already registered (like database/sql.Register).
// Drivers call it from init.
func Register(name string, d Driver) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" || d == nil {
		panic("drivers: Register with empty name or nil driver")
	}
	if _, dup := registry[name]; dup {
		panic("drivers: Register called twice for driver " + name)
	}
	registry[name] = d
}

// Lookup returns the driver registered under name.
func Lookup(name string) (Driver, error) {
	regMu.RLock()
	d, ok := registry[name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown driver %q (known: %v; forgotten import of drivers/all?)", name, Names())
	}
	return d, nil
}

// Names lists the registered driver names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	n := make([]string, 0, len(registry))
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
