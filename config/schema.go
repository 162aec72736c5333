package config

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The schema walk checks the YAML node tree against the Config struct before
// anything is decoded. Doing it on the node tree (rather than trusting
// mapstructure's ErrorUnused) is what gives every problem its exact key path
// and line, lets one pass report every mistake at once, and keeps the text of
// string values exactly as written (`address: 00001` stays "00001" instead of
// the octal number YAML would make of it).
//
// A bad value is replaced by null (so the rest still decodes and validates);
// an unknown or duplicate key is dropped. Sequence items are never dropped,
// only nulled, so indexes in later error messages match the file.

const (
	maxDepth = 64 // nesting deeper than this is not a config, it is an attack
)

var (
	durationType = reflect.TypeOf(time.Duration(0))
	anyType      = reflect.TypeOf((*any)(nil)).Elem()
	configType   = reflect.TypeOf(Config{})
)

type walker struct {
	lines    map[string]int
	explicit map[string]bool
	errs     Errors
	nulled   []string // paths whose value was rejected and replaced by null

	expanded map[*yaml.Node]bool // scalars already ${ENV}-expanded (anchors are shared)
	active   map[*yaml.Node]bool // alias targets being walked: catches self-containing anchors
	budget   int                 // node visits left: bounds alias fan-out ("billion laughs")
	over     bool
	lookup   func(string) (string, bool)
}

func newWalker(nodes int, lookup func(string) (string, bool)) *walker {
	return &walker{
		lines:    map[string]int{},
		explicit: map[string]bool{},
		expanded: map[*yaml.Node]bool{},
		active:   map[*yaml.Node]bool{},
		budget:   100_000 + 20*nodes,
		lookup:   lookup,
	}
}

func (w *walker) errorf(path string, line int, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// countNodes counts the nodes of the tree as written (aliases not followed).
func countNodes(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	c := 1
	for _, ch := range n.Content {
		c += countNodes(ch)
	}
	return c
}

var nullNode = func(line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "", Line: line}
}

// value checks n against Go type t at path. It returns false when the caller
// must replace n by null.
func (w *walker) value(n *yaml.Node, t reflect.Type, path string, depth int) bool {
	w.budget--
	if w.budget < 0 {
		if !w.over {
			w.over = true
			w.errorf(path, n.Line, "document too large or too many aliases")
		}
		return false
	}
	if depth > maxDepth {
		w.errorf(path, n.Line, "nested more than %d levels deep", maxDepth)
		return false
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil || w.active[target] {
			w.errorf(path, n.Line, "alias *%s contains itself", n.Value)
			return false
		}
		w.active[target] = true
		ok := w.value(target, t, path, depth+1)
		delete(w.active, target)
		return ok
	}
	if n.Kind == yaml.ScalarNode && !w.expanded[n] {
		w.expanded[n] = true
		if !w.expandScalar(n, path) {
			return false
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true // null means "not set": defaults apply
	}
	if !w.typed(n, t, path, depth) {
		w.nulled = append(w.nulled, path)
		return false
	}
	w.explicit[path] = true
	return true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (w *walker) typed(n *yaml.Node, t reflect.Type, path string, depth int) bool {
	if t == durationType {
		return w.duration(n, path)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.typed(n, t.Elem(), path, depth)
	case reflect.Interface:
		return w.free(n, path, depth)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if path == "" {
				w.errorf("", n.Line, "the file must be a YAML mapping with the keys gateway, opcua, metrics and devices")
			} else {
				w.errorf(path, n.Line, "must be a mapping (key: value), not %s", kindName(n))
			}
			return false
		}
		w.structMapping(n, t, path, depth, map[string]bool{})
		return true
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.errorf(path, n.Line, "must be a mapping (key: value), not %s", kindName(n))
			return false
		}
		return w.free(n, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errorf(path, n.Line, "must be a list, not %s", kindName(n))
			return false
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = item.Line
			if !w.value(item, t.Elem(), p, depth+1) {
				n.Content[i] = nullNode(item.Line)
			}
		}
		return true
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			w.errorf(path, n.Line, "must be a string, not %s", kindName(n))
			return false
		}
		n.Tag = "!!str" // keep the text as written: 00001 is an address, not octal 1
		return true
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			w.errorf(path, n.Line, "must be true or false, not %s", kindName(n))
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil ||
			reflect.Zero(t).OverflowInt(i) {
			w.errorf(path, n.Line, "must be a whole number, not %s", kindName(n))
			return false
		}
		return true
	case reflect.Float32, reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil {
			w.errorf(path, n.Line, "must be a number, not %s", kindName(n))
			return false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.errorf(path, n.Line, "must be a finite number, not %s", n.Value)
			return false
		}
		return true
	}
	w.errorf(path, n.Line, "cannot be decoded (internal: %s)", t)
	return false
}

func (w *walker) duration(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode {
		w.errorf(path, n.Line, "must be a duration such as 1s or 250ms, not %s", kindName(n))
		return false
	}
	switch n.ShortTag() {
	case "!!str":
		if _, err := time.ParseDuration(n.Value); err == nil {
			return true
		}
	case "!!int", "!!float":
		var f float64
		if n.Decode(&f) == nil && f == 0 {
			return true // a bare 0 is unambiguous
		}
		w.errorf(path, n.Line, "duration %s has no unit (write e.g. %ss or %sms)", n.Value, n.Value, n.Value)
		return false
	}
	w.errorf(path, n.Line, "%q is not a duration (write e.g. 1s, 250ms or 1m30s)", n.Value)
	return false
}

// fieldsOf maps each mapstructure key of struct t to its field type.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		m[strings.Split(tag, ",")[0]] = f.Type
	}
	return m
}

// structMapping walks a mapping decoded into struct t. taken holds keys set
// by an enclosing mapping that merges this one (<<: *anchor): those win.
func (w *walker) structMapping(n *yaml.Node, t reflect.Type, path string, depth int, taken map[string]bool) {
	fields := fieldsOf(t)
	local := map[string]int{} // key -> line, for duplicate detection within n
	var merges []*yaml.Node
	out := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			ms, ok := w.mergeSources(v, path, k.Line)
			if !ok {
				continue
			}
			merges = append(merges, ms...)
			out = append(out, k, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.errorf(path, k.Line, "keys must be plain words, not %s", kindName(k))
			continue
		}
		if t == configType && strings.HasPrefix(k.Value, "x-") {
			continue // extension keys hold YAML anchors for reuse (as in Compose files)
		}
		p := join(path, k.Value)
		if first, dup := local[k.Value]; dup {
			w.errorf(p, k.Line, "duplicate key (first at line %d)", first)
			continue
		}
		local[k.Value] = k.Line
		if taken[k.Value] {
			out = append(out, k, v) // overridden by the merging mapping; decode drops it
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			w.errorf(p, k.Line, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		w.lines[p] = k.Line
		if !w.value(v, ft, p, depth+1) {
			v = nullNode(v.Line)
		}
		out = append(out, k, v)
	}
	n.Content = out
	if len(merges) == 0 {
		return
	}
	seen := map[string]bool{}
	for k := range taken {
		seen[k] = true
	}
	for k := range local {
		seen[k] = true
	}
	for _, m := range merges {
		if w.active[m] {
			w.errorf(path, m.Line, "merge (<<) contains itself")
			continue
		}
		w.active[m] = true
		w.structMapping(m, t, path, depth+1, seen)
		delete(w.active, m)
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
				seen[k.Value] = true
			}
		}
	}
}

// mergeSources resolves the value of a << key: a mapping, or a list of them.
func (w *walker) mergeSources(v *yaml.Node, path string, line int) ([]*yaml.Node, bool) {
	deref := func(n *yaml.Node) *yaml.Node {
		for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
			n = n.Alias
		}
		return n
	}
	var out []*yaml.Node
	v = deref(v)
	items := []*yaml.Node{v}
	if v != nil && v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, it := range items {
		it = deref(it)
		if it == nil || it.Kind != yaml.MappingNode {
			w.errorf(join(path, "<<"), line, "merge (<<) needs a mapping or a list of mappings")
			return nil, false
		}
		out = append(out, it)
	}
	return out, true
}

// free walks a value decoded as-is (driver options): no key is unknown, but
// every string is still expanded and every key gets its line. Keys are
// compared case-insensitively because viper lowercases map keys.
func (w *walker) free(n *yaml.Node, path string, depth int) bool {
	switch n.Kind {
	case yaml.MappingNode:
		local := map[string]int{}
		out := make([]*yaml.Node, 0, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				if _, ok := w.mergeSources(v, path, k.Line); !ok {
					continue
				}
				out = append(out, k, v)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				w.errorf(path, k.Line, "keys must be plain words, not %s", kindName(k))
				continue
			}
			p := join(path, k.Value)
			lk := strings.ToLower(k.Value)
			if first, dup := local[lk]; dup {
				w.errorf(p, k.Line, "duplicate key (first at line %d; keys are case-insensitive)", first)
				continue
			}
			local[lk] = k.Line
			w.lines[p] = k.Line
			if !w.value(v, anyType, p, depth+1) {
				v = nullNode(v.Line)
			}
			out = append(out, k, v)
		}
		n.Content = out
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = item.Line
			if !w.value(item, anyType, p, depth+1) {
				n.Content[i] = nullNode(item.Line)
			}
		}
	}
	return true
}

// suggest returns a " (did you mean x?)" hint for a mistyped key.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for f := range fields {
		d := distance(strings.ToLower(key), f)
		if d < bestD || (d == bestD && f < best) {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance, for short keys only.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
