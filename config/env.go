package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every variable that overrides a scalar key:
// TAGBRIDGE_OPCUA_LISTEN overrides opcua.listen.
const EnvPrefix = "TAGBRIDGE_"

// expandScalar replaces every ${VAR} in a string scalar. A plain (unquoted)
// scalar is re-typed after expansion, so `unit_id: ${UNIT}` with UNIT=3 is
// the number 3, while `"${UNIT}"` stays the string "3".
func (w *walker) expandScalar(n *yaml.Node, path string) bool {
	if n.ShortTag() != "!!str" || !strings.Contains(n.Value, "$") {
		return true
	}
	s, err := expand(n.Value, w.lookup)
	if err != nil {
		w.errorf(path, n.Line, "%v", err)
		w.nulled = append(w.nulled, path)
		return false
	}
	if s == n.Value {
		return true
	}
	n.Value = s
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 {
		n.Tag = "" // resolve again: the expanded text decides the type
	}
	return true
}

// expand replaces ${NAME} and ${NAME:-default} with the environment's value.
// $${ writes a literal ${. A lone $ is left alone (bcrypt hashes are full of
// them). An unset variable without a default is an error: a silently empty
// address or password is worse than a refusal to start.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "$")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$${"):
			b.WriteString("${")
			s = s[3:]
			continue
		case !strings.HasPrefix(s, "${"):
			b.WriteByte('$')
			s = s[1:]
			continue
		}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q (write $${ for a literal ${)", s)
		}
		ref := s[2:end]
		s = s[end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable reference ${%s} (names are letters, digits and _)", ref)
		}
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			missing = append(missing, name)
		}
	}
	switch len(missing) {
	case 0:
		return b.String(), nil
	case 1:
		return "", fmt.Errorf("environment variable %s is not set", missing[0])
	}
	return "", fmt.Errorf("environment variables %s are not set", strings.Join(missing, ", "))
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// envKey is one key that a TAGBRIDGE_* variable may override.
type envKey struct {
	Path string // "opcua.listen"
	Var  string // "TAGBRIDGE_OPCUA_LISTEN"
	t    reflect.Type
}

// EnvKeys lists every key a TAGBRIDGE_* variable overrides: each scalar (and
// string list) under gateway, opcua and metrics. Devices, tags and users are
// lists of records and are not overridable one field at a time; use ${VAR}
// in the file for those.
func EnvKeys() []struct{ Path, Var string } {
	var out []struct{ Path, Var string }
	for _, k := range envKeys() {
		out = append(out, struct{ Path, Var string }{k.Path, k.Var})
	}
	return out
}

func envKeys() []envKey {
	var out []envKey
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for key, ft := range sortedFields(t) {
			p := join(path, key)
			switch {
			case ft == durationType:
			case ft.Kind() == reflect.Struct:
				walk(ft, p)
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.String:
				continue
			case ft.Kind() == reflect.Map, ft.Kind() == reflect.Pointer, ft.Kind() == reflect.Interface:
				continue
			}
			out = append(out, envKey{Path: p, Var: EnvPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_")), t: ft})
		}
	}
	for _, top := range []string{"gateway", "opcua", "metrics"} {
		walk(fieldsOf(configType)[top], top)
	}
	return out
}

// sortedFields yields a struct's keys in declaration order.
func sortedFields(t reflect.Type) func(yield func(string, reflect.Type) bool) {
	return func(yield func(string, reflect.Type) bool) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if !f.IsExported() || tag == "-" || tag == "" {
				continue
			}
			if !yield(tag, f.Type) {
				return
			}
		}
	}
}

// bindEnv binds every TAGBRIDGE_* variable that is set (even to "", so
// TAGBRIDGE_METRICS_LISTEN= turns metrics off) and checks its value first, so
// a bad one is reported with its name instead of failing the whole decode.
func (w *walker) bindEnv(v *viper.Viper, c *Config) {
	v.AllowEmptyEnv(true)
	for _, k := range envKeys() {
		val, ok := w.lookup(k.Var)
		if !ok {
			continue
		}
		if err := checkEnvValue(val, k.t); err != nil {
			w.errs = append(w.errs, &FieldError{Path: k.Path, Msg: fmt.Sprintf("%s=%q: %v", k.Var, val, err)})
			continue
		}
		if err := v.BindEnv(k.Path, k.Var); err != nil {
			w.errs = append(w.errs, &FieldError{Path: k.Path, Msg: fmt.Sprintf("%s: %v", k.Var, err)})
			continue
		}
		if c.Env == nil {
			c.Env = map[string]string{}
		}
		c.Env[k.Path] = k.Var
		w.explicit[k.Path] = true
		delete(w.lines, k.Path) // the file's line is not where the value came from
	}
}

func checkEnvValue(s string, t reflect.Type) error {
	switch t.Kind() {
	case reflect.Bool:
		if _, err := strconv.ParseBool(s); err != nil {
			return errors.New("not a bool (true or false)")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if _, err := strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return errors.New("not a whole number")
		}
	}
	return nil
}
