package mtconnect

import (
	"fmt"
	"strings"
)

// addr is a parsed point address: `id:<dataItemId>` or `name:<DataItem name>`.
type addr struct {
	byName bool
	key    string
}

// parseAddr parses a point address.
func parseAddr(s string) (addr, error) {
	kind, key, ok := strings.Cut(strings.TrimSpace(s), ":")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return addr{}, fmt.Errorf("address %q: want id:<dataItemId> or name:<DataItem name>", s)
	}
	switch strings.ToLower(kind) {
	case "id":
		return addr{key: key}, nil
	case "name":
		return addr{byName: true, key: key}, nil
	}
	return addr{}, fmt.Errorf("address %q: unknown kind %q (want id: or name:)", s, kind)
}

func (a addr) String() string {
	if a.byName {
		return "name:" + a.key
	}
	return "id:" + a.key
}
