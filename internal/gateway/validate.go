package gateway

import (
	"context"
	"errors"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/mapping"
)

// Validate runs every check `tagbridge validate` runs on a loaded config:
// the envelope, the tag table, and each driver's own options and addresses.
// It returns nil or every problem found, each with its key path.
func Validate(ctx context.Context, cfg *config.Config) config.Errors {
	errs := cfg.Validate()
	var later config.Errors
	if _, err := mapping.Compile(cfg, mapping.NewStore()); err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			later = append(later, ce...)
		} else {
			later = append(later, &config.FieldError{Msg: err.Error()})
		}
	}
	later = append(later, mapping.CheckDrivers(ctx, cfg)...)
	return merge(errs, later)
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
	return out
}
