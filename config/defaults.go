package config

import (
	"fmt"
	"time"
)

// Defaults. The OPC UA server listens on loopback unless told otherwise: a
// gateway that silently opens port 4840 on every interface of a plant network
// is a security finding, so all-interfaces must be written down
// (opcua.listen: 0.0.0.0:4840 or TAGBRIDGE_OPCUA_LISTEN).
const (
	DefaultName         = "tagbridge"
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"
	DefaultListen       = "127.0.0.1:4840"
	DefaultURIPrefix    = "urn:tagbridge:" // + gateway.name
	DefaultSecurity     = "none"
	DefaultAnonymous    = "read"
	DefaultPKI          = "./pki"
	DefaultRole         = "read"
	DefaultAccess       = "read"
	DefaultScan         = time.Second
	DefaultDemoteFor    = 10 * time.Second
	DefaultBackoffMin   = 500 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
	DefaultWriteTimeout = 5 * time.Second
)

// ApplyDefaults fills every unset key. It is idempotent, and Load and Parse
// call it before Validate.
//
// A duration written as an explicit zero in the file ("scan: 0s") is left
// at zero for Validate to reject, because the writer probably meant
// something other than the default; an omitted key gets the default. A tag's
// scan of 0 (or omitted) means "the device's scan" and is filled with it.
func (c *Config) ApplyDefaults() {
	g := &c.Gateway
	setStr(&g.Name, DefaultName)
	setStr(&g.Log.Level, DefaultLogLevel)
	setStr(&g.Log.Format, DefaultLogFormat)

	o := &c.OPCUA
	setStr(&o.Listen, DefaultListen)
	setStr(&o.ApplicationURI, DefaultURIPrefix+g.Name)
	if o.Security == nil && !c.explicit["opcua.security"] {
		o.Security = []string{DefaultSecurity}
	}
	setStr(&o.Anonymous, DefaultAnonymous)
	setStr(&o.PKI, DefaultPKI)
	for i := range o.Users {
		setStr(&o.Users[i].Role, DefaultRole)
	}

	for i := range c.Devices {
		d := &c.Devices[i]
		p := fmt.Sprintf("devices[%d].", i)
		c.setDur(&d.Scan, p+"scan", DefaultScan)
		setStr(&d.Folder, d.Name)
		c.setDur(&d.DemoteFor, p+"demote_for", DefaultDemoteFor)
		c.setDur(&d.BackoffMin, p+"backoff_min", DefaultBackoffMin)
		c.setDur(&d.BackoffMax, p+"backoff_max", DefaultBackoffMax)
		c.setDur(&d.WriteTimeout, p+"write_timeout", DefaultWriteTimeout)
		for j := range d.Tags {
			t := &d.Tags[j]
			setStr(&t.Access, DefaultAccess)
			if t.Scan == 0 && d.Scan > 0 {
				t.Scan = d.Scan
			}
		}
	}
}

func setStr(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func (c *Config) setDur(d *time.Duration, path string, def time.Duration) {
	if *d == 0 && !c.explicit[path] {
		*d = def
	}
}

// IsEnabled reports whether the device is enabled (the key defaults to
// true; enabled: false keeps a device in the file without polling it).
func (d *Device) IsEnabled() bool { return d.Enabled == nil || *d.Enabled }

// TagPath is a tag's full path under Objects: <folder>/<tag name>, with the
// folder defaulting to the device name. It is also the NodeId string.
func (d *Device) TagPath(t *Tag) string {
	folder := d.Folder
	if folder == "" {
		folder = d.Name
	}
	return folder + "/" + t.Name
}
