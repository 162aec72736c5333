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
	if _, err := mapping.Compile(cfg, mapping.NewStore()); err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			errs = append(errs, ce...)
		} else {
			errs = append(errs, &config.FieldError{Msg: err.Error()})
		}
	}
	errs = append(errs, mapping.CheckDrivers(ctx, cfg)...)
	return dedupe(errs)
}

// dedupe drops repeated messages for one path (the envelope and the tag
// compiler may both notice the same mistake).
func dedupe(es config.Errors) config.Errors {
	seen := map[string]bool{}
	out := es[:0]
	for _, e := range es {
		k := e.Path + "\x00" + e.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
