package config

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	clearEnv(t)
	c, err := Demo()
	if err != nil {
		t.Fatalf("the demo must load clean: %v", err)
	}
	if c.File != "" || c.OPCUA.Listen != DefaultListen || c.Metrics.Listen != "" {
		t.Errorf("file %q listen %q metrics %q", c.File, c.OPCUA.Listen, c.Metrics.Listen)
	}
	types := map[string]bool{}
	units := map[string]bool{}
	folders := map[string]bool{}
	tags, writable, scaled, deadbands := 0, 0, 0, 0
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.Driver != "sim" {
			t.Errorf("device %s uses driver %q; the demo must need no hardware", d.Name, d.Driver)
		}
		folders[d.Folder] = true
		for j := range d.Tags {
			tg := &d.Tags[j]
			tags++
			types[tg.Type] = true
			units[tg.Unit] = true
			if tg.Access == "readwrite" {
				writable++
				if !strings.HasPrefix(tg.Address, "memory:") {
					t.Errorf("writable tag %s is not a sim memory cell: %s", tg.Name, tg.Address)
				}
			}
			if tg.Scale != nil {
				scaled++
			}
			if tg.Deadband != nil {
				deadbands++
			}
		}
	}
	for _, ty := range []string{"bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string", "bcd16"} {
		if !types[ty] {
			t.Errorf("no demo tag of type %s", ty)
		}
	}
	for _, u := range []string{"degC", "bar", "rpm", "mm", "%"} {
		if !units[u] {
			t.Errorf("no demo tag with unit %s", u)
		}
	}
	if tags < 18 || writable != 1 || scaled < 2 || deadbands < 2 || len(folders) < 3 {
		t.Errorf("tags %d writable %d scaled %d deadbands %d folders %v", tags, writable, scaled, deadbands, folders)
	}
}

// TAGBRIDGE_OPCUA_LISTEN moves the demo like any config (`tagbridge run`).
func TestDemoListenOverride(t *testing.T) {
	clearEnv(t)
	t.Setenv("TAGBRIDGE_OPCUA_LISTEN", "127.0.0.1:0")
	c, err := Demo()
	if err != nil || c.OPCUA.Listen != "127.0.0.1:0" {
		t.Fatalf("listen %v, err %v", c.OPCUA.Listen, err)
	}
	if string(DemoYAML()) != string(demoYAML) {
		t.Error("DemoYAML differs from the embedded file")
	}
}
