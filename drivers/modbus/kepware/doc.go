// Package kepware converts a KEPServerEX tag export (CSV, Modbus driver) into
// Tagbridge YAML tags, for `tagbridge import kepware FILE.csv`.
//
// It owns the Kepware column, type and address mapping. It imports only
// drivers/modbus (to check addresses exactly as the driver will), the
// standard library and go.yaml.in/yaml/v3; it never imports config, mapping,
// internal/* or another driver.
package kepware
