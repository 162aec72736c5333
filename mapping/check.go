package mapping

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/tagbridge/tagbridge/config"
	"github.com/tagbridge/tagbridge/drivers"
)

// CheckDrivers runs the drivers' own checks for `tagbridge validate`: the
// driver exists (error at devices[i].driver), Open accepts the options
// (devices[i].options), every tag address passes drivers.Checker when the
// device implements it (devices[i].tags[j].address), and a readwrite tag
// needs a device that implements drivers.Writer (devices[i].tags[j].access).
// Open does no network I/O by contract; each device is closed again.
// Problems Compile reports (a tag with an unknown type...) are not repeated:
// such tags are skipped.
func CheckDrivers(ctx context.Context, cfg *config.Config) config.Errors {
	var errs config.Errors
	for i := range cfg.Devices {
		if ctx.Err() != nil {
			break
		}
		cd := &cfg.Devices[i]
		dp := fmt.Sprintf("devices[%d]", i)
		if cd.Driver == "" {
			cfg.Errorf(&errs, dp+".driver", "must not be empty (modbus, mtconnect or sim)")
			continue
		}
		drv, err := drivers.Lookup(cd.Driver)
		if err != nil {
			cfg.Errorf(&errs, dp+".driver", "%v", err)
			continue
		}
		dev, err := drv.Open(ctx, cd.Name, cd.Options)
		if err != nil {
			optionErrors(cfg, &errs, dp+".options", err)
			continue
		}
		checkTags(cfg, cd, dp, dev, &errs)
		_ = dev.Close() // nothing was connected; a close error says nothing about the config
	}
	return errs
}

func checkTags(cfg *config.Config, cd *config.Device, dp string, dev drivers.Device, errs *config.Errors) {
	checker, _ := dev.(drivers.Checker)
	_, writable := dev.(drivers.Writer)
	var discard config.Errors // Compile reports these
	d := compileDevice(cfg, cd, dp, &discard)
	for j := range cd.Tags {
		tp := fmt.Sprintf("%s.tags[%d]", dp, j)
		t := compileTag(cfg, d, &cd.Tags[j], tp, &discard)
		if t == nil || t.Addr.Addr == "" {
			continue
		}
		if checker != nil {
			if err := checker.Check(t.Addr); err != nil {
				cfg.Errorf(errs, tp+".address", "%v", err)
			}
		}
		if t.Access == ReadWrite && !writable {
			cfg.Errorf(errs, tp+".access", "driver %q does not support writes", cd.Driver)
		}
	}
}

// optionKeyRE finds the option a driver error names: `option "address": ...`.
var optionKeyRE = regexp.MustCompile(`option "([A-Za-z0-9_]+)"`)

// optionErrors reports a driver's Open error one problem per line: a joined
// error is split, and a problem that names its option is placed at that
// option's key path (devices[i].options.address), so every line has a path
// and, when the key is in the file, a line number.
func optionErrors(cfg *config.Config, errs *config.Errors, path string, err error) {
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	for _, e := range parts {
		for _, line := range strings.Split(e.Error(), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			p := path
			if loc := optionKeyRE.FindStringSubmatchIndex(line); loc != nil {
				p = path + "." + line[loc[2]:loc[3]]
				line = line[loc[0]:] // the key path names the device: drop "modbus press3: "
			}
			cfg.Errorf(errs, p, "%s", line)
		}
	}
}
