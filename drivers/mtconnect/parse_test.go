package mtconnect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProbe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, device, wantDevice, version string
		items                             int
		paths                             map[string]string // id -> path joined
	}{
		{"v1.3/probe.xml", "", "Lathe1", "1.3.0.18", 17, map[string]string{
			"avail": "", "Xact": "Axes[base]/Linear[X]", "Sspeed": "Axes[base]/Rotary[C]", "exec": "Controller/Path",
		}},
		{"v1.3/probe.xml", "lathe-001", "Lathe1", "1.3.0.18", 17, nil},
		{"v2.2/probe.xml", "", "Lathe2", "2.2.0.17", 20, map[string]string{
			"Xact": "Axes/Linear[X]", "power": "Systems/Electric", "pc": "Controller/Path",
		}},
	} {
		p, err := parseProbe([]byte(readFile(t, tc.file)), tc.device)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if p.Device != tc.wantDevice || p.Header.Version != tc.version || len(p.Items) != tc.items {
			t.Errorf("%s: device %q version %q items %d", tc.file, p.Device, p.Header.Version, len(p.Items))
		}
		for id, path := range tc.paths {
			it, ok := p.item(addr{key: id})
			if !ok || strings.Join(it.Path, "/") != path {
				t.Errorf("%s: %s path %q, want %q", tc.file, id, strings.Join(it.Path, "/"), path)
			}
		}
		if _, ok := p.item(addr{key: "agent_avail"}); ok {
			t.Errorf("%s: the Agent device's items were taken", tc.file)
		}
	}
	if _, err := parseProbe([]byte(readFile(t, "v1.3/probe.xml")), "Mill9"); err == nil || !strings.Contains(err.Error(), "Lathe1") {
		t.Errorf("unknown device: %v, want an error listing the agent's devices", err)
	}
}

func TestParseStreamsSorted(t *testing.T) {
	t.Parallel()
	doc, err := parseStreams([]byte(readFile(t, "v1.3/sample.xml")), "Lathe1")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Header.NextSequence != 126 || doc.Header.FirstSequence != 1 || len(doc.Obs) != 6 {
		t.Fatalf("header %+v, %d observations", doc.Header, len(doc.Obs))
	}
	for i := 1; i < len(doc.Obs); i++ {
		if doc.Obs[i].Seq < doc.Obs[i-1].Seq {
			t.Errorf("observations not in sequence order: %d after %d", doc.Obs[i].Seq, doc.Obs[i-1].Seq)
		}
	}
	if doc, _ := parseStreams([]byte(readFile(t, "v1.3/sample.xml")), "Other"); len(doc.Obs) != 0 {
		t.Errorf("another device's stream was kept")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, code, msg string }{
		{readFile(t, "error_out_of_range.xml"), CodeOutOfRange, "'from' must be greater than or equal to 200."},
		{readFile(t, "error_2.6.xml"), CodeOutOfRange, "'from' must be greater than 100"},
		{`<MTConnectError><Errors><InvalidRequest><ErrorMessage>bad</ErrorMessage></InvalidRequest></Errors></MTConnectError>`, CodeInvalidRequest, "bad"},
		{`<MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.0"><Error errorCode="NO_DEVICE">no Mill9</Error></MTConnectError>`, CodeNoDevice, "no Mill9"},
		{`<MTConnectError/>`, "UNKNOWN", "MTConnectError without errors"},
	} {
		_, err := parseStreams([]byte(tc.doc), "")
		var ae *AgentError
		if !errors.As(err, &ae) || ae.Code != tc.code || ae.Message != tc.msg {
			t.Errorf("error doc: %v, want %s %q", err, tc.code, tc.msg)
		}
		if _, err := parseProbe([]byte(tc.doc), ""); !errors.As(err, &ae) {
			t.Errorf("probe of an error doc: %v, want an AgentError", err)
		}
	}
}

// seeds are the testdata documents plus hostile fragments.
func seeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	more, _ := filepath.Glob("testdata/*/*.xml")
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "<", "<MTConnectStreams>", "<MTConnectStreams><Header nextSequence=\"-1\"/></MTConnectStreams>",
		"<MTConnectDevices><Devices><Device><Components><Axes><Components><Linear/></Components></Axes></Components></Device></Devices></MTConnectDevices>",
		"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><MTConnectStreams>&a;</MTConnectStreams>",
		strings.Repeat("<Components><A>", 200)} {
		f.Add([]byte(s))
	}
}

func FuzzParseStreams(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := parseStreams(b, "")
		if err == nil {
			c := cache{}
			for _, o := range doc.Obs {
				c.apply(o)
			}
			for id, l := range c {
				_ = l.sample(dataItem{ID: id, Category: "SAMPLE"}, 0)
				if l.cond != nil {
					l.cond.text()
				}
			}
		}
	})
}

func FuzzParseProbe(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseProbe(b, "")
		if err == nil {
			for _, pi := range points(p) {
				if pi.Name == "" || !strings.HasPrefix(pi.Addr, "id:") {
					t.Fatalf("bad point %+v", pi)
				}
				if _, err := parseAddr(pi.Addr); err != nil {
					t.Fatalf("point address %q does not parse: %v", pi.Addr, err)
				}
			}
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"id:Xact", "name:Spindle_Speed", "id:", ":", "ID: x ", "name:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAddr(s)
		if err == nil {
			if b, err := parseAddr(a.String()); err != nil || b != a {
				t.Fatalf("%q -> %v -> %v %v", s, a, b, err)
			}
		}
	})
}
