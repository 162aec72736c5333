package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
)

// kind is the signal an address asks for.
type kind uint8

const (
	kindSine kind = iota + 1
	kindRamp
	kindRandom
	kindCounter
	kindSquare
	kindConst
	kindMemory
	kindBad
)

var kindNames = map[string]kind{
	"sine": kindSine, "ramp": kindRamp, "random": kindRandom, "counter": kindCounter,
	"square": kindSquare, "const": kindConst, "memory": kindMemory, "bad": kindBad,
}

const kindList = "sine, ramp, random, counter, square, const, memory, bad"

// paramNames lists, in documentation order, the parameters each parametric
// kind accepts.
var paramNames = map[kind][]string{
	kindSine:    {"period", "amplitude", "offset"},
	kindRamp:    {"period", "min", "max"},
	kindRandom:  {"min", "max"},
	kindCounter: {"step", "max"},
	kindSquare:  {"period", "low", "high"},
}

const defaultPeriod = 10 * time.Second

// point is a parsed address. Syntax is checked by parseAddress; whether it
// fits the tag's type by resolve.
type point struct {
	kind   kind
	period time.Duration
	// amplitude/offset (sine), min/max (ramp, random), low/high (square),
	// step/max (counter).
	amplitude, offset, min, max, low, high, step float64
	hasMax                                       bool // counter: max given

	lit     string // const literal, memory initial value
	hasInit bool   // memory: "=<initial>" given
	memType drivers.Type
	quality drivers.Quality // bad

	val any // resolved const value or memory initial value, in the tag's Go type
}

// parseAddress parses a sim address: kind[:parameters]. It never panics.
func parseAddress(s string) (point, error) {
	p, err := parse(s)
	if err != nil {
		return point{}, fmt.Errorf("sim: address %q: %w", s, err)
	}
	return p, nil
}

func parse(s string) (point, error) {
	name, rest, hasRest := strings.Cut(s, ":")
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return point{}, fmt.Errorf("empty address (want kind[:parameters], kind one of %s)", kindList)
	}
	k, ok := kindNames[name]
	if !ok {
		return point{}, fmt.Errorf("unknown kind %q (want %s)", name, kindList)
	}
	p := point{kind: k}
	switch k {
	case kindConst:
		if !hasRest {
			return point{}, fmt.Errorf("const needs a value (e.g. const:42 or const:hello)")
		}
		p.lit = rest
		return p, nil
	case kindMemory:
		typ, init, hasInit := strings.Cut(rest, "=")
		if strings.TrimSpace(typ) == "" {
			return point{}, fmt.Errorf("memory needs a type (e.g. memory:float32 or memory:int16=5)")
		}
		t, err := drivers.ParseType(typ)
		if err != nil {
			return point{}, err
		}
		p.memType, p.lit, p.hasInit = t, init, hasInit
		return p, nil
	case kindBad:
		q, err := parseQuality(rest)
		if err != nil {
			return point{}, err
		}
		p.quality = q
		return p, nil
	}
	return parseParams(p, rest)
}

// parseParams parses "name=value,name=value" for the parametric kinds.
func parseParams(p point, rest string) (point, error) {
	names := paramNames[p.kind]
	p.period, p.amplitude, p.min, p.max, p.high, p.step = defaultPeriod, 1, 0, 100, 1, 1
	if p.kind == kindCounter {
		p.max = 0 // resolved from the tag type unless given
	}
	if strings.TrimSpace(rest) == "" {
		return p, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(rest, ",") {
		key, val, hasVal := strings.Cut(kv, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "" {
			return point{}, fmt.Errorf("empty parameter (want name=value, names %s)", strings.Join(names, ", "))
		}
		if !contains(names, key) {
			return point{}, fmt.Errorf("unknown parameter %q (want %s)", key, strings.Join(names, ", "))
		}
		if seen[key] {
			return point{}, fmt.Errorf("parameter %q given twice", key)
		}
		seen[key] = true
		if !hasVal || val == "" {
			return point{}, fmt.Errorf("parameter %q has no value (want %s=<value>)", key, key)
		}
		if key == "period" {
			d, err := time.ParseDuration(val)
			if err != nil {
				return point{}, fmt.Errorf("period %q is not a duration (e.g. 10s, 500ms)", val)
			}
			if d <= 0 {
				return point{}, fmt.Errorf("period %s must be > 0", d)
			}
			p.period = d
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return point{}, fmt.Errorf("%s %q is not a finite number", key, val)
		}
		switch key {
		case "amplitude":
			p.amplitude = f
		case "offset":
			p.offset = f
		case "min":
			p.min = f
		case "max":
			p.max, p.hasMax = f, true
		case "low":
			p.low = f
		case "high":
			p.high = f
		case "step":
			p.step = f
		}
	}
	switch {
	case p.kind == kindRandom && p.min > p.max:
		return point{}, fmt.Errorf("min %g is greater than max %g", p.min, p.max)
	case p.kind == kindCounter && p.step <= 0:
		return point{}, fmt.Errorf("step %g must be > 0", p.step)
	case p.kind == kindCounter && p.hasMax && p.max <= 0:
		return point{}, fmt.Errorf("max %g must be > 0", p.max)
	}
	return p, nil
}

// resolve checks that p can produce values of type t and computes what
// depends on t: a const's value, a memory's initial value, a counter's
// default wrap. s is the address, for the error.
func (p *point) resolve(s string, t drivers.Type) error {
	if err := p.resolveType(t); err != nil {
		return fmt.Errorf("sim: address %q: %w", s, err)
	}
	return nil
}

func (p *point) resolveType(t drivers.Type) error {
	if t.Zero() == nil {
		return fmt.Errorf("tag type %s is not supported (want one of bool, int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bcd16, bcd32)", t)
	}
	switch p.kind {
	case kindConst:
		v, err := parseLiteral(p.lit, t)
		if err != nil {
			return fmt.Errorf("const: %w", err)
		}
		p.val = v
	case kindMemory:
		if p.memType != t {
			return fmt.Errorf("memory type %s does not match the tag type %s", p.memType, t)
		}
		p.val = t.Zero()
		if p.hasInit {
			v, err := parseLiteral(p.lit, t)
			if err != nil {
				return fmt.Errorf("memory initial value: %w", err)
			}
			p.val = v
		}
	case kindCounter:
		if !p.hasMax {
			p.max = typeMax(t)
		}
	}
	return nil
}

// knownQualities are the names bad:<name> accepts.
var knownQualities = []drivers.Quality{
	drivers.Bad, drivers.BadInternalError, drivers.BadCommunicationError, drivers.BadTimeout,
	drivers.BadNoCommunication, drivers.BadWaitingForInitialData, drivers.BadNotWritable,
	drivers.BadOutOfRange, drivers.BadTypeMismatch, drivers.BadConfigurationError,
	drivers.BadNotConnected, drivers.BadDeviceFailure, drivers.BadSensorFailure,
	drivers.BadOutOfService, drivers.BadNotSupported,
}

// parseQuality accepts a Bad quality by name (case-insensitive) or as a hex
// status code (0x808B0000).
func parseQuality(s string) (drivers.Quality, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("bad needs a quality name (e.g. bad:BadDeviceFailure)")
	}
	for _, q := range knownQualities {
		if strings.EqualFold(q.String(), s) {
			return q, nil
		}
	}
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		if n, err := strconv.ParseUint(s[2:], 16, 32); err == nil {
			q := drivers.Quality(n)
			if !q.IsBad() {
				return 0, fmt.Errorf("quality %s is not Bad", s)
			}
			return q, nil
		}
	}
	names := make([]string, len(knownQualities))
	for i, q := range knownQualities {
		names[i] = q.String()
	}
	return 0, fmt.Errorf("unknown quality %q (want a Bad quality name: %s, or a hex code like 0x808B0000)", s, strings.Join(names, ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
