package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Allowed values of the enumerated keys (read-only; docs/config.md lists them).
var (
	logLevels        = []string{"debug", "info", "warn", "error"}
	logFormats       = []string{"text", "json"}
	securityPolicies = []string{"none", "basic256sha256", "aes128_sha256_rsaoaep", "aes256_sha256_rsapss"}
	anonymousModes   = []string{"off", "read"}
	roles            = []string{"read", "write"}
	accesses         = []string{"read", "readwrite"}
	byteOrders       = []string{"ABCD", "CDAB", "BADC", "DCBA"}
)

// deprecatedPolicies are refused by name with an explanation rather than as
// "unknown": users copy them from old Kepware and UaExpert screenshots.
var deprecatedPolicies = map[string]bool{"basic128rsa15": true, "basic256": true}

var (
	bcryptRE     = regexp.MustCompile(`^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$`)
	thumbprintRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
)

// StatusFolder is the folder under Objects that holds each device's status
// variables; no tag path may start with it.
const StatusFolder = "_Devices"

// Validate checks the envelope (after ApplyDefaults) and returns every
// problem found, each with its key path and line, or nil. It does not check
// driver names, driver options, tag addresses or type names: those belong to
// the drivers and to mapping, which report with the same key paths.
func (c *Config) Validate() Errors {
	v := &validator{c: c}
	v.gateway()
	v.opcua()
	v.metrics()
	v.devices()
	return v.errs
}

type validator struct {
	c    *Config
	errs Errors
}

// errf records an error at path; a value that came from a TAGBRIDGE_*
// variable says so, since the file is not where to look.
func (v *validator) errf(path, format string, args ...any) {
	v.c.Errorf(&v.errs, path, format, args...)
	if name := v.c.Env[path]; name != "" {
		e := v.errs[len(v.errs)-1]
		e.Msg += " (from " + name + ")"
		e.Line = 0 // not the enclosing key's line either: the file is not where to look
	}
}

func (v *validator) oneOf(path, val string, allowed []string) bool {
	if slices.Contains(allowed, val) {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(a, val) {
			v.errf(path, "%q is not allowed: write %s", val, a)
			return false
		}
	}
	v.errf(path, "%q is not one of %s", val, strings.Join(allowed, ", "))
	return false
}

func (v *validator) gateway() {
	g := v.c.Gateway
	if strings.TrimSpace(g.Name) == "" {
		v.errf("gateway.name", "must not be empty")
	}
	v.oneOf("gateway.log.level", g.Log.Level, logLevels)
	v.oneOf("gateway.log.format", g.Log.Format, logFormats)
}

func (v *validator) opcua() {
	o := v.c.OPCUA
	v.listen("opcua.listen", o.Listen, "127.0.0.1:4840 or 0.0.0.0:4840")
	if strings.ContainsAny(o.Hostname, " /:\t") {
		v.errf("opcua.hostname", "%q must be a bare host name or IP address (no port, no scheme)", o.Hostname)
	}
	if u, err := url.Parse(o.ApplicationURI); err != nil || u.Scheme == "" || strings.ContainsAny(o.ApplicationURI, " \t") {
		v.errf("opcua.application_uri", "%q is not a URI (e.g. urn:tagbridge:line1-gw)", o.ApplicationURI)
	}
	if len(o.Security) == 0 {
		v.errf("opcua.security", "needs at least one policy (e.g. [none] or [basic256sha256])")
	}
	seen := map[string]bool{}
	for i, s := range o.Security {
		p := fmt.Sprintf("opcua.security[%d]", i)
		switch {
		case deprecatedPolicies[strings.ToLower(s)]:
			v.errf(p, "%q is deprecated (SHA-1, broken padding) and never offered; use basic256sha256, aes128_sha256_rsaoaep or aes256_sha256_rsapss", s)
		case !v.oneOf(p, s, securityPolicies):
		case seen[s]:
			v.errf(p, "%q is listed twice", s)
		}
		seen[s] = true
	}
	if o.Anonymous == "write" {
		v.errf("opcua.anonymous", `anonymous clients never write: use "read" and give a user role: write`)
	} else {
		v.oneOf("opcua.anonymous", o.Anonymous, anonymousModes)
	}
	if o.Anonymous == "off" && len(o.Users) == 0 {
		v.errf("opcua.anonymous", "is off and there are no users: no client could connect")
	}
	names := map[string]int{}
	for i, u := range o.Users {
		p := fmt.Sprintf("opcua.users[%d]", i)
		switch {
		case u.Name == "":
			v.errf(p+".name", "must not be empty")
		case names[u.Name] > 0:
			v.errf(p+".name", "duplicate user %q (first at opcua.users[%d])", u.Name, names[u.Name]-1)
		default:
			names[u.Name] = i + 1
		}
		if u.PasswordHash == "" && u.Thumbprint == "" {
			v.errf(p, "needs password_hash (from `tagbridge passwd`) or thumbprint")
		}
		if u.PasswordHash != "" && !bcryptRE.MatchString(u.PasswordHash) {
			// Never echo the value: it may be a password pasted in plain text.
			v.errf(p+".password_hash", "is not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters); make one with `tagbridge passwd`")
		}
		if u.Thumbprint != "" && !thumbprintRE.MatchString(strings.ReplaceAll(u.Thumbprint, ":", "")) {
			v.errf(p+".thumbprint", "%q is not a SHA-1 thumbprint (40 hex digits)", u.Thumbprint)
		}
		v.oneOf(p+".role", u.Role, roles)
	}
	if strings.TrimSpace(o.PKI) == "" {
		v.errf("opcua.pki", "must not be empty")
	}
	l := o.Limits
	for _, lim := range []struct {
		key string
		n   int
	}{
		{"max_sessions", l.MaxSessions}, {"max_subscriptions_per_session", l.MaxSubscriptionsPerSession},
		{"max_monitored_items", l.MaxMonitoredItems}, {"max_nodes_per_read", l.MaxNodesPerRead},
		{"max_nodes_per_write", l.MaxNodesPerWrite}, {"max_nodes_per_browse", l.MaxNodesPerBrowse},
		{"max_monitored_items_per_call", l.MaxMonitoredItemsPerCall},
		{"max_browse_continuation_points", l.MaxBrowseContinuationPoints},
		{"max_references_per_browse", l.MaxReferencesPerBrowseResult},
	} {
		if lim.n < 0 {
			v.errf("opcua.limits."+lim.key, "must be >= 0 (0 = the default), not %d", lim.n)
		}
	}
}

func (v *validator) metrics() {
	m := v.c.Metrics
	if m.Listen == "" {
		return
	}
	if v.listen("metrics.listen", m.Listen, "127.0.0.1:9100") && m.Listen == v.c.OPCUA.Listen && !strings.HasSuffix(m.Listen, ":0") {
		v.errf("metrics.listen", "%q is also opcua.listen (one port cannot serve both)", m.Listen)
	}
}

// listen checks a host:port; the port may be 0 (any free port, for tests).
func (v *validator) listen(path, s, example string) bool {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("bad port")
		}
	}
	if err != nil {
		v.errf(path, "%q is not host:port (e.g. %s)", s, example)
		return false
	}
	return true
}

func (v *validator) devices() {
	names := map[string]int{}    // device name -> index+1
	paths := map[string]string{} // tag path -> key path of the tag that has it
	folders := map[string]string{}
	for i := range v.c.Devices {
		d := &v.c.Devices[i]
		p := fmt.Sprintf("devices[%d]", i)
		switch {
		case d.Name == "":
			v.errf(p+".name", "must not be empty")
		case strings.Contains(d.Name, "/"):
			v.errf(p+".name", "%q must not contain '/' (use folder for the place in the tree)", d.Name)
		case strings.TrimSpace(d.Name) != d.Name:
			v.errf(p+".name", "%q has leading or trailing spaces", d.Name)
		case names[d.Name] > 0:
			v.errf(p+".name", "duplicate device name %q (first at devices[%d])", d.Name, names[d.Name]-1)
		default:
			names[d.Name] = i + 1
		}
		if d.Driver == "" {
			v.errf(p+".driver", "must not be empty (modbus, mtconnect or sim)")
		}
		v.positive(p+".scan", d.Scan)
		if d.Folder != "" && v.treePath(p+".folder", d.Folder) {
			if first, _, _ := strings.Cut(d.Folder, "/"); first == StatusFolder {
				v.errf(p+".folder", "%q is reserved for the device status folder", StatusFolder)
			} else {
				addFolders(folders, d.Folder, p+".folder")
			}
		}
		if d.DemoteAfter < 0 {
			v.errf(p+".demote_after", "must be >= 0 (0 = never demote), not %d", d.DemoteAfter)
		}
		v.positive(p+".demote_for", d.DemoteFor)
		v.positive(p+".backoff_min", d.BackoffMin)
		if v.positive(p+".backoff_max", d.BackoffMax) && d.BackoffMin > 0 && d.BackoffMax < d.BackoffMin {
			v.errf(p+".backoff_max", "%v is less than backoff_min %v", d.BackoffMax, d.BackoffMin)
		}
		v.positive(p+".write_timeout", d.WriteTimeout)
		for j := range d.Tags {
			v.tag(d, &d.Tags[j], fmt.Sprintf("%s.tags[%d]", p, j), paths, folders)
		}
	}
	// A path that is both a variable and a folder would need one node to be
	// two things.
	for path, at := range paths {
		if by, ok := folders[path]; ok {
			v.errf(at, "%q is both a tag and a folder (of %s)", path, by)
		}
	}
}

func (v *validator) positive(path string, d time.Duration) bool {
	if d <= 0 {
		v.errf(path, "must be > 0, not %v (omit it for the default)", d)
		return false
	}
	return true
}

// treePath checks a folder or tag name: '/'-separated segments, none empty,
// none padded with spaces.
func (v *validator) treePath(path, s string) bool {
	switch {
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		v.errf(path, "%q must not start or end with '/'", s)
		return false
	case strings.Contains(s, "//"):
		v.errf(path, "%q has an empty segment ('//')", s)
		return false
	}
	for _, seg := range strings.Split(s, "/") {
		if strings.TrimSpace(seg) != seg || seg == "" {
			v.errf(path, "%q has a segment with leading or trailing spaces", s)
			return false
		}
	}
	return true
}

// addFolders records every folder on the way to (and including) dir.
func addFolders(folders map[string]string, dir, by string) {
	for {
		if _, ok := folders[dir]; !ok {
			folders[dir] = by
		}
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			return
		}
		dir = dir[:i]
	}
}
