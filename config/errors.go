package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem in the config, located by its key path.
type FieldError struct {
	Path string // e.g. "devices[2].tags[5].type"
	Line int    // line in the file, 0 when unknown
	Msg  string // e.g. `unknown type "flaot32"`
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		if e.Path == "" { // a YAML syntax error has a line but no key path
			return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
		}
		return fmt.Sprintf("%s: %s (line %d)", e.Path, e.Msg, e.Line)
	}
	if e.Path == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors is every problem found in a config. Its Error joins them one per line.
type Errors []*FieldError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Errorf appends an error at path, with the line looked up in c.Lines.
func (c *Config) Errorf(es *Errors, path, format string, args ...any) {
	line := 0
	if c != nil && c.Lines != nil {
		line = c.Lines[path]
		if line == 0 { // fall back to the closest parent key that has a line
			p := path
			for line == 0 {
				i := strings.LastIndexAny(p, ".[")
				if i <= 0 {
					break
				}
				p = p[:i]
				line = c.Lines[p]
			}
		}
	}
	*es = append(*es, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}
