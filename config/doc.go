// Package config loads the Tagbridge YAML file: viper-based load, strict
// decoding (an unknown key is an error), defaults, ${ENV} expansion and
// TAGBRIDGE_* overrides, and validation of the envelope that collects every
// error with its key path and line. It also watches the file for changes and
// embeds the built-in demo.
//
// Files: config.go and errors.go hold the envelope types and FieldError;
// load.go the pipeline (parse -> schema walk -> viper decode with overrides
// -> defaults -> validate); schema.go the strict, line-keeping walk of the
// YAML node tree; env.go ${VAR} expansion and TAGBRIDGE_* overrides;
// defaults.go; validate.go and validate_tag.go; watch.go; demo.go.
//
// It knows only the envelope: driver options are decoded and validated by
// each driver, and type names by mapping. It imports viper, fsnotify, yaml
// and the standard library, and must never import anything of ours.
//
// The user reference is docs/config.md.
package config
