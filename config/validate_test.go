package config

import (
	"errors"
	"strings"
	"testing"
)

const hashOK = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

// parseErrs parses src and returns its errors (nil when it is valid).
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	c, err := parse([]byte(src), "test.yaml", noEnv)
	if err == nil {
		if c == nil {
			t.Fatal("nil config without error")
		}
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, not config.Errors: %v", err, err)
	}
	return es
}

// noEnv is an empty environment, so tests do not depend on the caller's.
func noEnv(string) (string, bool) { return "", false }

// device wraps tag lines into a minimal valid file with one sim device.
func device(tags string) string {
	return "devices:\n  - name: d1\n    driver: sim\n    tags:\n" + tags
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tag := func(extra string) string {
		return device("      - name: T\n        address: const:1\n        type: float64\n" + extra)
	}
	cases := []struct {
		name, src string
		path, msg string // want an error at path whose message contains msg; path "" = valid
	}{
		{"minimal valid", device("      - {name: T, address: 'const:1', type: int16}\n"), "", ""},
		{"no devices is valid", "gateway: {name: gw}\n", "", ""},
		{"log level", "gateway: {log: {level: verbose}}\n", "gateway.log.level", `"verbose" is not one of debug, info, warn, error`},
		{"log level case", "gateway: {log: {level: INFO}}\n", "gateway.log.level", "write info"},
		{"log format", "gateway: {log: {format: xml}}\n", "gateway.log.format", "is not one of text, json"},
		{"listen not host:port", "opcua: {listen: '4840'}\n", "opcua.listen", "is not host:port"},
		{"listen bad port", "opcua: {listen: 'localhost:99999'}\n", "opcua.listen", "is not host:port"},
		{"listen port 0 ok", "opcua: {listen: '127.0.0.1:0'}\n", "", ""},
		{"hostname with port", "opcua: {hostname: 'gw:4840'}\n", "opcua.hostname", "bare host name"},
		{"application uri", "opcua: {application_uri: 'not a uri'}\n", "opcua.application_uri", "is not a URI"},
		{"security empty", "opcua: {security: []}\n", "opcua.security", "at least one"},
		{"security unknown", "opcua: {security: [none, basic512]}\n", "opcua.security[1]", `"basic512" is not one of none, basic256sha256`},
		{"security deprecated basic256", "opcua: {security: [basic256]}\n", "opcua.security[0]", "deprecated"},
		{"security deprecated basic128rsa15", "opcua: {security: [Basic128Rsa15]}\n", "opcua.security[0]", "never offered"},
		{"security case", "opcua: {security: [Basic256Sha256]}\n", "opcua.security[0]", "write basic256sha256"},
		{"security twice", "opcua: {security: [none, none]}\n", "opcua.security[1]", "listed twice"},
		{"all policies ok", "opcua: {security: [none, basic256sha256, aes128_sha256_rsaoaep, aes256_sha256_rsapss]}\n", "", ""},
		{"anonymous write", "opcua: {anonymous: write}\n", "opcua.anonymous", "never write"},
		{"anonymous bad", "opcua: {anonymous: maybe}\n", "opcua.anonymous", "is not one of off, read"},
		{"anonymous off no users", "opcua: {anonymous: 'off'}\n", "opcua.anonymous", "no client could connect"},
		{"user ok", "opcua: {anonymous: 'off', users: [{name: op, password_hash: '" + hashOK + "', role: write}]}\n", "", ""},
		{"user no name", "opcua: {users: [{password_hash: '" + hashOK + "'}]}\n", "opcua.users[0].name", "must not be empty"},
		{"user duplicate", "opcua: {users: [{name: a, password_hash: '" + hashOK + "'}, {name: a, password_hash: '" + hashOK + "'}]}\n", "opcua.users[1].name", `duplicate user "a"`},
		{"user plain password", "opcua: {users: [{name: a, password_hash: hunter2}]}\n", "opcua.users[0].password_hash", "not a bcrypt hash"},
		{"user no credential", "opcua: {users: [{name: a}]}\n", "opcua.users[0]", "needs password_hash"},
		{"user role", "opcua: {users: [{name: a, password_hash: '" + hashOK + "', role: admin}]}\n", "opcua.users[0].role", "is not one of read, write"},
		{"user thumbprint ok", "opcua: {users: [{name: a, thumbprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD'}]}\n", "", ""},
		{"user thumbprint bad", "opcua: {users: [{name: a, thumbprint: xyz}]}\n", "opcua.users[0].thumbprint", "40 hex digits"},
		{"limits negative", "opcua: {limits: {max_sessions: -1}}\n", "opcua.limits.max_sessions", "must be >= 0"},
		{"metrics listen", "metrics: {listen: nine}\n", "metrics.listen", "is not host:port"},
		{"metrics same as opcua", "opcua: {listen: '127.0.0.1:4840'}\nmetrics: {listen: '127.0.0.1:4840'}\n", "metrics.listen", "is also opcua.listen"},
		{"device no name", "devices: [{driver: sim}]\n", "devices[0].name", "must not be empty"},
		{"device name slash", "devices: [{name: a/b, driver: sim}]\n", "devices[0].name", "must not contain '/'"},
		{"device name spaces", "devices: [{name: ' a', driver: sim}]\n", "devices[0].name", "leading or trailing spaces"},
		{"device duplicate", "devices: [{name: a, driver: sim}, {name: a, driver: sim}]\n", "devices[1].name", `duplicate device name "a" (first at devices[0])`},
		{"device no driver", "devices: [{name: a}]\n", "devices[0].driver", "must not be empty"},
		{"device scan zero", "devices: [{name: a, driver: sim, scan: 0s}]\n", "devices[0].scan", "must be > 0"},
		{"device scan negative", "devices: [{name: a, driver: sim, scan: -1s}]\n", "devices[0].scan", "must be > 0"},
		{"device folder slash", "devices: [{name: a, driver: sim, folder: /Line1}]\n", "devices[0].folder", "must not start or end with '/'"},
		{"device folder empty segment", "devices: [{name: a, driver: sim, folder: Line1//P}]\n", "devices[0].folder", "empty segment"},
		{"device folder reserved", "devices: [{name: a, driver: sim, folder: _Devices/x}]\n", "devices[0].folder", "reserved"},
		{"demote_after negative", "devices: [{name: a, driver: sim, demote_after: -1}]\n", "devices[0].demote_after", "must be >= 0"},
		{"backoff order", "devices: [{name: a, driver: sim, backoff_min: 5s, backoff_max: 1s}]\n", "devices[0].backoff_max", "less than backoff_min"},
		{"write_timeout zero", "devices: [{name: a, driver: sim, write_timeout: 0s}]\n", "devices[0].write_timeout", "must be > 0"},
		{"tag no name", device("      - {address: x, type: int16}\n"), "devices[0].tags[0].name", "must not be empty"},
		{"tag name leading slash", device("      - {name: /T, address: x, type: int16}\n"), "devices[0].tags[0].name", "must not start or end"},
		{"tag name trailing slash", device("      - {name: T/, address: x, type: int16}\n"), "devices[0].tags[0].name", "must not start or end"},
		{"tag name empty segment", device("      - {name: A//T, address: x, type: int16}\n"), "devices[0].tags[0].name", "empty segment"},
		{"tag sub-folder ok", device("      - {name: A/T, address: x, type: int16}\n"), "", ""},
		{"tag duplicate path", device("      - {name: T, address: x, type: int16}\n      - {name: T, address: y, type: int16}\n"), "devices[0].tags[1].name", `duplicate tag path "d1/T"`},
		{"tag path across devices", "devices:\n  - {name: a, driver: sim, folder: L, tags: [{name: T, address: x, type: int16}]}\n  - {name: b, driver: sim, folder: L, tags: [{name: T, address: x, type: int16}]}\n", "devices[1].tags[0].name", `duplicate tag path "L/T" (first at devices[0].tags[0])`},
		{"tag is also folder", device("      - {name: A, address: x, type: int16}\n      - {name: A/B, address: y, type: int16}\n"), "devices[0].tags[0].name", "both a tag and a folder"},
		{"tag no address", device("      - {name: T, type: int16}\n"), "devices[0].tags[0].address", "must not be empty"},
		{"tag no type", device("      - {name: T, address: x}\n"), "devices[0].tags[0].type", "must not be empty"},
		{"tag length negative", tag("        length: -2\n"), "devices[0].tags[0].length", "must be >= 0"},
		{"tag byte order", tag("        byte_order: abcd\n"), "devices[0].tags[0].byte_order", "write ABCD"},
		{"tag access write", tag("        access: write\n"), "devices[0].tags[0].access", "write readwrite"},
		{"tag access bad", tag("        access: all\n"), "devices[0].tags[0].access", "is not one of read, readwrite"},
		{"tag scan negative", tag("        scan: -5ms\n"), "devices[0].tags[0].scan", "must be > 0"},
		{"tag scan zero inherits", tag("        scan: 0s\n"), "", ""},
		{"scale ok raw/eng", tag("        scale: {raw: [0, 27648], eng: [0, 100], clamp: true}\n"), "", ""},
		{"scale ok gain", tag("        scale: {gain: 0.1, offset: -40}\n"), "", ""},
		{"scale both forms", tag("        scale: {raw: [0, 1], eng: [0, 2], gain: 2}\n"), "devices[0].tags[0].scale", "not both"},
		{"scale empty", tag("        scale: {clamp: true}\n"), "devices[0].tags[0].scale", "needs raw and eng"},
		{"scale raw without eng", tag("        scale: {raw: [0, 1]}\n"), "devices[0].tags[0].scale.eng", "is missing"},
		{"scale raw three numbers", tag("        scale: {raw: [0, 1, 2], eng: [0, 1]}\n"), "devices[0].tags[0].scale.raw", "exactly two numbers"},
		{"scale raw equal", tag("        scale: {raw: [5, 5], eng: [0, 1]}\n"), "devices[0].tags[0].scale.raw", "must differ"},
		{"scale eng equal", tag("        scale: {raw: [0, 1], eng: [3, 3]}\n"), "devices[0].tags[0].scale.eng", "must differ"},
		{"scale gain zero", tag("        scale: {gain: 0}\n"), "devices[0].tags[0].scale.gain", "non-zero"},
		{"scale inverted ok", tag("        scale: {raw: [0, 100], eng: [100, 0]}\n"), "", ""},
		{"clamp without range", tag("        scale: {gain: 2, clamp: true}\n"), "devices[0].tags[0].scale.clamp", "needs an engineering range"},
		{"clamp gain with range ok", tag("        scale: {gain: 2, clamp: true}\n        range: [0, 10]\n"), "", ""},
		{"deadband negative", tag("        deadband: {absolute: -1}\n"), "devices[0].tags[0].deadband.absolute", "must be >= 0"},
		{"deadband percent big", tag("        range: [0, 1]\n        deadband: {percent: 150}\n"), "devices[0].tags[0].deadband.percent", "between 0 and 100"},
		{"deadband both", tag("        range: [0, 1]\n        deadband: {absolute: 1, percent: 2}\n"), "devices[0].tags[0].deadband", "not both"},
		{"deadband percent needs range", tag("        deadband: {percent: 2}\n"), "devices[0].tags[0].deadband.percent", "needs an engineering range"},
		{"deadband percent with range ok", tag("        range: [0, 100]\n        deadband: {percent: 2}\n"), "", ""},
		{"range one number", tag("        range: [1]\n"), "devices[0].tags[0].range", "exactly two numbers"},
		{"range reversed", tag("        range: [10, 0]\n"), "devices[0].tags[0].range", "must be less than high"},
		{"range and eng", tag("        scale: {raw: [0, 1], eng: [0, 2]}\n        range: [0, 2]\n"), "devices[0].tags[0].range", "remove one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := parseErrs(t, tc.src)
			if tc.path == "" {
				if es != nil {
					t.Fatalf("want valid, got:\n%v", es)
				}
				return
			}
			for _, e := range es {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) {
					if e.Line == 0 {
						t.Errorf("error %q has no line", e)
					}
					return
				}
			}
			t.Fatalf("want an error at %s containing %q, got:\n%v", tc.path, tc.msg, es)
		})
	}
}

// A Config built in code (no file, no Lines) validates too, without lines.
func TestValidateProgrammatic(t *testing.T) {
	t.Parallel()
	c := &Config{Devices: []Device{{Name: "a", Driver: "sim", Tags: []Tag{{Name: "T", Address: "x", Type: "int16"}}}}}
	c.ApplyDefaults()
	if es := c.Validate(); es != nil {
		t.Fatalf("valid config: %v", es)
	}
	c.Devices[0].Scan = -1
	es := c.Validate()
	if len(es) != 1 || es[0].Path != "devices[0].scan" || es[0].Line != 0 {
		t.Fatalf("got %v", es)
	}
}
