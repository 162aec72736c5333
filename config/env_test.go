package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// clearEnv unsets every TAGBRIDGE_* override for the test (restored after).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range EnvKeys() {
		t.Setenv(k.Var, "")
		os.Unsetenv(k.Var)
	}
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func onlyError(t *testing.T, err error) *FieldError {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("want exactly one config error, got %v", err)
	}
	return es[0]
}

func TestEnvExpansion(t *testing.T) {
	clearEnv(t)
	t.Setenv("PLC_ADDR", "10.0.0.7:502")
	t.Setenv("PLC_UNIT", "3")
	t.Setenv("GW", "line9")
	t.Setenv("EMPTY", "")
	c := mustParse(t, `
gateway: { name: "gw-${GW}" }
devices:
  - name: plc
    driver: modbus
    options:
      address: ${PLC_ADDR}
      unit_id: ${PLC_UNIT}
      quoted: "${PLC_UNIT}"
      fallback: ${NOT_SET_ANYWHERE:-9600}
      literal: "$${PLC_ADDR}"
      dollars: "$2a$10$abc"
      empty: "x${EMPTY}y"
    tags:
      - { name: T, address: "${PLC_UNIT}0001", type: int16 }
`)
	if c.Gateway.Name != "gw-line9" || c.OPCUA.ApplicationURI != "urn:tagbridge:gw-line9" {
		t.Errorf("gateway name %q, uri %q", c.Gateway.Name, c.OPCUA.ApplicationURI)
	}
	want := map[string]any{
		"address":  "10.0.0.7:502",
		"unit_id":  3, // unquoted: re-typed after expansion
		"quoted":   "3",
		"fallback": 9600,
		"literal":  "${PLC_ADDR}",
		"dollars":  "$2a$10$abc",
		"empty":    "xy",
	}
	if !reflect.DeepEqual(c.Devices[0].Options, want) {
		t.Errorf("options = %#v\nwant %#v", c.Devices[0].Options, want)
	}
	if got := c.Devices[0].Tags[0].Address; got != "30001" {
		t.Errorf("address = %q", got)
	}
}

func TestEnvExpansionErrors(t *testing.T) {
	clearEnv(t)
	cases := []struct{ name, value, path, msg string }{
		{"unset", "${PLC_NOPE_1}", "devices[0].options.address", "environment variable PLC_NOPE_1 is not set"},
		{"two unset", "${PLC_NOPE_1}:${PLC_NOPE_2}", "devices[0].options.address", "environment variables PLC_NOPE_1, PLC_NOPE_2 are not set"},
		{"unterminated", "${PLC_ADDR", "devices[0].options.address", "unterminated ${"},
		{"bad name", "${1X}", "devices[0].options.address", "invalid variable reference ${1X}"},
		{"empty name", "${}", "devices[0].options.address", "invalid variable reference ${}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "devices:\n  - name: plc\n    driver: modbus\n    options:\n      address: \"" + tc.value + "\"\n"
			_, err := Parse([]byte(src), "test.yaml")
			e := onlyError(t, err)
			if e.Path != tc.path || !strings.Contains(e.Msg, tc.msg) || e.Line != 5 {
				t.Errorf("got %q, want %s: ...%s... (line 5)", e, tc.path, tc.msg)
			}
		})
	}
}

// A missing variable in a required field is reported once, as missing, not
// a second time as "must not be empty".
func TestEnvUnsetRequiredField(t *testing.T) {
	clearEnv(t)
	_, err := Parse([]byte("devices:\n  - name: ${PLC_NAME_UNSET}\n    driver: sim\n"), "x.yaml")
	e := onlyError(t, err)
	if e.Error() != "devices[0].name: environment variable PLC_NAME_UNSET is not set (line 2)" {
		t.Errorf("got %q", e)
	}
}

func TestEnvOverrides(t *testing.T) {
	clearEnv(t)
	t.Setenv("TAGBRIDGE_OPCUA_LISTEN", "0.0.0.0:14840")
	t.Setenv("TAGBRIDGE_GATEWAY_LOG_LEVEL", "debug")
	t.Setenv("TAGBRIDGE_GATEWAY_NAME", "from-env")
	t.Setenv("TAGBRIDGE_METRICS_LISTEN", "127.0.0.1:9200")
	t.Setenv("TAGBRIDGE_OPCUA_SECURITY", "none, basic256sha256")
	t.Setenv("TAGBRIDGE_OPCUA_AUTO_TRUST", "true")
	t.Setenv("TAGBRIDGE_OPCUA_LIMITS_MAX_SESSIONS", "7")
	c := mustParse(t, `
gateway: { name: from-file, log: { level: warn, format: json } }
opcua: { listen: 127.0.0.1:4840 }
devices:
  - { name: MixedCase, driver: sim, tags: [ { name: TagName, address: CaseKept, type: int16 } ] }
`)
	if c.OPCUA.Listen != "0.0.0.0:14840" || c.Gateway.Log.Level != "debug" || c.Gateway.Log.Format != "json" ||
		c.Gateway.Name != "from-env" || c.OPCUA.ApplicationURI != "urn:tagbridge:from-env" ||
		c.Metrics.Listen != "127.0.0.1:9200" || !c.OPCUA.AutoTrust || c.OPCUA.Limits.MaxSessions != 7 {
		t.Errorf("overrides not applied: %+v %+v %+v", c.Gateway, c.OPCUA, c.Metrics)
	}
	if !reflect.DeepEqual(c.OPCUA.Security, []string{"none", "basic256sha256"}) {
		t.Errorf("security = %q", c.OPCUA.Security)
	}
	if c.Env["opcua.listen"] != "TAGBRIDGE_OPCUA_LISTEN" {
		t.Errorf("Env = %v", c.Env)
	}
	// Names in lists keep their case (viper lowercases map keys only).
	d := c.Devices[0]
	if d.Name != "MixedCase" || d.Tags[0].Name != "TagName" || d.Tags[0].Address != "CaseKept" {
		t.Errorf("case lost: %+v", d)
	}
}

func TestEnvOverrideWithoutFileKey(t *testing.T) {
	clearEnv(t)
	t.Setenv("TAGBRIDGE_OPCUA_LISTEN", "127.0.0.1:0")
	c := mustParse(t, "gateway: { name: gw }\n")
	if c.OPCUA.Listen != "127.0.0.1:0" {
		t.Errorf("listen = %q", c.OPCUA.Listen)
	}
}

// An empty variable counts: TAGBRIDGE_METRICS_LISTEN= turns metrics off.
func TestEnvOverrideEmpty(t *testing.T) {
	clearEnv(t)
	t.Setenv("TAGBRIDGE_METRICS_LISTEN", "")
	c := mustParse(t, "metrics: { listen: 127.0.0.1:9100 }\n")
	if c.Metrics.Listen != "" {
		t.Errorf("metrics.listen = %q, want off", c.Metrics.Listen)
	}
}

func TestEnvOverrideErrors(t *testing.T) {
	clearEnv(t)
	t.Setenv("TAGBRIDGE_OPCUA_AUTO_TRUST", "maybe")
	t.Setenv("TAGBRIDGE_OPCUA_LISTEN", "nowhere")
	_, err := Parse([]byte("opcua: { listen: 127.0.0.1:4840 }\n"), "x.yaml")
	got := err.Error()
	for _, want := range []string{
		`opcua.auto_trust: TAGBRIDGE_OPCUA_AUTO_TRUST="maybe": not a bool (true or false)`,
		`opcua.listen: "nowhere" is not host:port (e.g. 127.0.0.1:4840 or 0.0.0.0:4840) (from TAGBRIDGE_OPCUA_LISTEN)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "(line") {
		t.Errorf("an override error points into the file:\n%s", got)
	}
}

func TestEnvKeys(t *testing.T) {
	t.Parallel()
	keys := map[string]string{}
	for _, k := range EnvKeys() {
		keys[k.Path] = k.Var
	}
	for path, v := range map[string]string{
		"gateway.name": "TAGBRIDGE_GATEWAY_NAME", "gateway.log.level": "TAGBRIDGE_GATEWAY_LOG_LEVEL",
		"gateway.log.format": "TAGBRIDGE_GATEWAY_LOG_FORMAT", "opcua.listen": "TAGBRIDGE_OPCUA_LISTEN",
		"opcua.hostname": "TAGBRIDGE_OPCUA_HOSTNAME", "opcua.application_uri": "TAGBRIDGE_OPCUA_APPLICATION_URI",
		"opcua.security": "TAGBRIDGE_OPCUA_SECURITY", "opcua.anonymous": "TAGBRIDGE_OPCUA_ANONYMOUS",
		"opcua.pki": "TAGBRIDGE_OPCUA_PKI", "opcua.auto_trust": "TAGBRIDGE_OPCUA_AUTO_TRUST",
		"opcua.limits.max_sessions": "TAGBRIDGE_OPCUA_LIMITS_MAX_SESSIONS", "metrics.listen": "TAGBRIDGE_METRICS_LISTEN",
	} {
		if keys[path] != v {
			t.Errorf("%s: got %q, want %q", path, keys[path], v)
		}
	}
	if _, ok := keys["opcua.users"]; ok {
		t.Error("users must not be overridable as a scalar")
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "1", "B_2": "two", "E": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		"":               "",
		"plain":          "plain",
		"${A}":           "1",
		"x${A}y${B_2}z":  "x1ytwoz",
		"${E}":           "",
		"${Z:-def}":      "def",
		"${A:-def}":      "1",
		"${Z:-}":         "",
		"$${A}":          "${A}",
		"$A $ $$ $2a$10": "$A $ $$ $2a$10",
		"${A}}":          "1}",
	} {
		got, err := expand(in, lookup)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
