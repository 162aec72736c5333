package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/mapping"
)

// Validate runs every check `tagbridge validate` runs on a loaded config:
// the envelope, the tag table, and each driver's own options and addresses.
// It returns nil or every problem found, each with its key path.
func Validate(ctx context.Context, cfg *config.Config) config.Errors {
	return merge(cfg.Validate(), beyondEnvelope(ctx, cfg))
}

// beyondEnvelope runs the checks config.Load cannot: the tag compiler's and
// each driver's own.
func beyondEnvelope(ctx context.Context, cfg *config.Config) config.Errors {
	var errs config.Errors
	if _, err := mapping.Compile(cfg, mapping.NewStore()); err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			errs = append(errs, ce...)
		} else {
			errs = append(errs, &config.FieldError{Msg: err.Error()})
		}
	}
	return append(errs, mapping.CheckDrivers(ctx, cfg)...)
}

// merge appends the later checks' errors to the envelope's, dropping those
// at a key path the envelope already reported: the tag compiler and the
// drivers often notice the same mistake in their own words.
func merge(first, later config.Errors) config.Errors {
	seen := map[string]bool{}
	for _, e := range first {
		seen[e.Path] = true
	}
	out := first
	for _, e := range later {
		if !seen[e.Path] || e.Path == "" {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	// File order reads best; errors without a line (env overrides) last.
	sort.SliceStable(out, func(i, j int) bool {
		li, lj := out[i].Line, out[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	return out
}

// Load reads a config file and, when it parses, runs every check Validate
// runs, so a bad file reports all its errors at once: the envelope's, the
// tag compiler's and the drivers'. The error names the file.
func Load(ctx context.Context, path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if cfg == nil { // unreadable or not YAML
		if errors.As(err, new(config.Errors)) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	var errs config.Errors
	errors.As(err, &errs) // config.Load decoded and validated the envelope already
	errs = merge(errs, beyondEnvelope(ctx, cfg))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %d error(s):\n%w", path, len(errs), errs)
	}
	return cfg, nil
}
