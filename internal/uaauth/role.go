package uaauth

import "fmt"

// Role is what an authenticated client may do with tag values.
type Role uint8

const (
	RoleNone  Role = iota // not authenticated: nothing
	RoleRead              // browse, read, subscribe
	RoleWrite             // all of RoleRead, and write values
)

// ParseRole reads a role as the config file spells it: "read" or "write".
func ParseRole(s string) (Role, error) {
	switch s {
	case "read":
		return RoleRead, nil
	case "write":
		return RoleWrite, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q (want read or write)", s)
}

// CanRead reports whether the role may browse, read and subscribe.
func (r Role) CanRead() bool { return r >= RoleRead }

// CanWrite reports whether the role may write values.
func (r Role) CanWrite() bool { return r == RoleWrite }

func (r Role) String() string {
	switch r {
	case RoleNone:
		return "none"
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}
