package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path and returns the config with defaults
// applied, or an error.
//
// The error is a config.Errors (every problem, each with its key path and
// line) when the file could be read: syntax errors, unknown keys, wrong
// types, unset ${VAR}s and validation failures all come back together. In
// that case the returned *Config is non-nil but must not be run; it is there
// so a caller (`tagbridge validate`) can run further checks, such as each
// driver's own options, and report everything at once. A YAML syntax error
// or an empty file returns a nil *Config.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse is Load for bytes already read; file is recorded in Config.File.
// It reads ${VAR} and TAGBRIDGE_* variables from the process environment.
func Parse(data []byte, file string) (*Config, error) {
	return parse(data, file, os.LookupEnv)
}

// parse is Parse with the environment as a function (tests pass their own).
func parse(data []byte, file string, lookup func(string) (string, bool)) (*Config, error) {
	c, errs, nulled := decode(data, file, lookup)
	if c == nil {
		return nil, errs
	}
	c.ApplyDefaults()
	errs = append(errs, c.Validate().without(nulled)...)
	if len(errs) == 0 {
		return c, nil
	}
	sortByLine(errs)
	return c, errs
}

// Decode parses and strictly decodes data without applying defaults or
// validating: the first half of Parse. It returns a nil *Config only for a
// YAML syntax error or an empty file; otherwise the errors are the decode problems (unknown
// keys, wrong types, unset ${VAR}s, bad TAGBRIDGE_* values) and the Config
// holds everything else.
func Decode(data []byte, file string) (*Config, Errors) {
	c, errs, _ := decode(data, file, os.LookupEnv)
	return c, errs
}

// decode is Decode, plus the key paths whose values were rejected (and
// decoded as unset), so Validate does not report them a second time.
func decode(data []byte, file string, lookup func(string) (string, bool)) (*Config, Errors, []string) {
	doc, err := parseYAML(data)
	if err != nil {
		return nil, syntaxErrors(data, err), nil
	}
	if doc == nil || (doc.Kind == yaml.ScalarNode && doc.ShortTag() == "!!null") {
		// Refused rather than read as "no devices": an editor that truncates
		// before writing must not make a hot reload drop every device.
		return nil, Errors{{Line: 1, Msg: "the file is empty"}}, nil
	}
	w := newWalker(countNodes(doc), lookup)
	m := map[string]any{}
	if w.value(doc, configType, "", 0) && !w.over {
		if err := doc.Decode(&m); err != nil {
			w.errs = append(w.errs, yamlErrors(err)...)
			m = map[string]any{}
		}
	}
	c := &Config{File: file, Lines: w.lines, explicit: w.explicit}

	// viper holds the file's settings under the TAGBRIDGE_* overrides and
	// does the final (strict) decode into the struct.
	v := viper.NewWithOptions(viper.KeyDelimiter("."))
	if err := v.MergeConfigMap(m); err != nil {
		w.errs = append(w.errs, &FieldError{Msg: "config: " + err.Error()})
	}
	w.bindEnv(v, c)
	err = v.Unmarshal(c,
		viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			stringToListHook,
		)),
		func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true },
	)
	if err != nil {
		// The schema walk catches every known mistake first; this is the net
		// for anything it does not know about.
		w.errs = append(w.errs, &FieldError{Msg: "config: decode: " + err.Error()})
	}
	return c, w.errs, w.nulled
}

// without drops errors at or under any of the given paths.
func (es Errors) without(paths []string) Errors {
	if len(paths) == 0 {
		return es
	}
	out := es[:0:0]
	for _, e := range es {
		covered := false
		for _, p := range paths {
			if e.Path == p || strings.HasPrefix(e.Path, p+".") || strings.HasPrefix(e.Path, p+"[") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, e)
		}
	}
	return out
}

// sortByLine orders errors as they appear in the file; errors without a line
// (environment overrides) come first, in the order found.
func sortByLine(es Errors) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// stringToListHook splits a TAGBRIDGE_* value such as "none, basic256sha256"
// into a trimmed list.
func stringToListHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// parseYAML returns the single document's root node (nil for an empty file).
func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &lineError{line: extra.Line, msg: "only one YAML document is allowed (remove the second ---)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		return root.Content[0], nil
	}
	return &root, nil
}

type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrors turns a yaml.v3 error ("yaml: line 3: did not find expected
// key", or a TypeError with several "line N: ..." entries) into FieldErrors
// carrying the line.
func yamlErrors(err error) Errors {
	var le *lineError
	if errors.As(err, &le) {
		return Errors{{Line: le.line, Msg: le.msg}}
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out Errors
	for _, m := range msgs {
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			out = append(out, &FieldError{Line: line, Msg: "YAML: " + sm[2]})
			continue
		}
		out = append(out, &FieldError{Msg: "YAML: " + strings.TrimPrefix(m, "yaml: ")})
	}
	return out
}

// syntaxErrors reports a YAML syntax error at the line where it is. yaml.v3
// names the line where the enclosing block starts ("line 3: did not find
// expected '-' indicator" for a bad indent on line 6); the smallest prefix
// of the file that fails with the same message ends at the line to fix.
func syntaxErrors(data []byte, err error) Errors {
	es := yamlErrors(err)
	for _, e := range es {
		e.Msg = "YAML syntax: " + strings.TrimPrefix(e.Msg, "YAML: ")
	}
	if len(es) != 1 || es[0].Line == 0 {
		return es
	}
	var le *lineError
	if errors.As(err, &le) {
		return es
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(n int) bool {
		_, perr := parseYAML(bytes.Join(lines[:n], nil))
		return perr != nil && perr.Error() == err.Error()
	}
	lo, hi := 1, len(lines) // fails(hi) holds: it is the whole file
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if hi > es[0].Line {
		es[0].Msg += fmt.Sprintf(" (in the block that starts at line %d)", es[0].Line)
		es[0].Line = hi
	}
	return es
}
