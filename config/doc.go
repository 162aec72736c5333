// Package config loads the Tagbridge YAML file: viper-based load, strict
// decoding (an unknown key is an error), defaults, ${ENV} expansion and
// TAGBRIDGE_* overrides, and validation of the envelope that collects every
// error with its key path and line.
//
// It knows only the envelope: driver options are decoded and validated by
// each driver. It imports viper and the standard library, nothing of ours.
package config
