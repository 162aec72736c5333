package kepware

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

const header = "Tag Name,Address,Data Type,Respect Data Type,Client Access,Scan Rate,Scaling,Raw Low,Raw High,Scaled Low,Scaled High,Scaled Data Type,Clamp Low,Clamp High,Eng Units,Description,Negate Value\n"

func TestConvertExample(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(filepath.Join("testdata", "example.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	warnings, err := Convert(bytes.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "example.yaml.golden")
	got := out.String()
	if len(warnings) > 0 {
		got += "# warnings:\n# " + strings.Join(warnings, "\n# ") + "\n"
	}
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update after checking):\n%s", golden, got)
	}
}

func TestConvertRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		row  string
		want string // substring of the YAML
	}{
		{"word", `T1,40001,Word,1,RO,100,None,,,,,,,,,,0`, "- name: T1\n    address: \"40001\"\n    type: uint16\n    access: read\n    scan: 100ms\n"},
		{"six digit", `T,400100,Float,1,R/W,1000,None,,,,,,,,,,0`, "address: \"400100\"\n    type: float32\n    access: readwrite\n    scan: 1s\n"},
		{"bit", `T,400010.07,Boolean,1,RO,,,,,,,,,,,,`, "address: \"400010.7\"\n    type: bool\n"},
		{"string H", `T,400001.010H,String,1,RO,,,,,,,,,,,,`, "type: string\n    length: 10\n    access: read\n"},
		{"string L", `T,400001.5L,String,1,RO,,,,,,,,,,,,`, "length: 5\n    byte_order: BADC\n"},
		{"linear clamp", `T,30001,Word,1,RO,,Linear,0,27648,0,100,Double,1,1,degC,Temp,0`, "scale: {raw: [0, 27648], eng: [0, 100], clamp: true}\n    unit: degC\n    description: Temp\n"},
		{"negate only", `T,30001,Short,1,RO,,None,,,,,,,,,,1`, "scale: {gain: -1, offset: 0}\n"},
		{"lowercase type and group", `Grp.T,40001,lbcd,1,RO,,,,,,,,,,,,`, "- name: Grp/T\n    address: \"40001\"\n    type: bcd32\n"},
		{"scan zero omitted", `T,40001,LLong,1,RO,0,None,,,,,,,,,,0`, "type: int64\n    access: read\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if _, err := Convert(strings.NewReader(header+tt.row+"\n"), &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("output:\n%s\nwant it to contain:\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty file"},
		{"no address column", "Tag Name,Data Type\nT,Word\n", `missing column "Address"`},
		{"bad type", header + "A,40001,Word\nB,40002,Char\n", `row 3 (tag "B"), column "Data Type": unsupported data type "Char"`},
		{"array type", header + "A,40001,Word Array\n", "arrays (Word Array) are not supported"},
		{"array address", header + "A,40001[4],Word\n", "array address"},
		{"bad address", header + "A,40000,Word\n", `row 2 (tag "A"), column "Address": modbus: address "40000": register 0 does not exist`},
		{"coil as word", header + "A,000001,Word\n", `column "Data Type"`},
		{"string no suffix", header + "A,400001,String\n", "needs a length and byte order suffix"},
		{"string bad order", header + "A,400001.010X,String\n", "must end in H"},
		{"string too long", header + "A,400001.300H,String\n", "must be 1..250"},
		{"bit on word", header + "A,400001.3,Word\n", "needs data type Boolean"},
		{"bit 16", header + "A,400001.16,Boolean\n", "bit 16 out of range"},
		{"bit on coil", header + "A,000001.1,Boolean\n", "only allowed on registers"},
		{"past end", header + "A,465535,Double\n", "runs past"},
		{"access", header + "A,40001,Word,1,WO\n", `column "Client Access": unknown client access "WO"`},
		{"scan", header + "A,40001,Word,1,RO,fast\n", `column "Scan Rate"`},
		{"scaling", header + "A,40001,Word,1,RO,100,Log\n", `unknown scaling "Log"`},
		{"raw low", header + "A,40001,Word,1,RO,100,Linear,x,1,0,1\n", `column "Raw Low": "x" is not a number`},
		{"raw equal", header + "A,40001,Word,1,RO,100,Linear,1,1,0,1\n", "raw high equals raw low"},
		{"clamp", header + "A,40001,Word,1,RO,100,Linear,0,1,0,1,Double,maybe\n", `column "Clamp Low"`},
		{"negate", header + "A,40001,Word,1,RO,100,None,,,,,,,,,,2\n", `column "Negate Value"`},
		{"empty name", header + ",40001,Word\n", `row 2, column "Tag Name": empty tag name`},
		{"duplicate", header + "A,40001,Word\nA,40002,Word\n", `row 3, column "Tag Name": tag "A" already defined in row 2`},
		{"scaled string", header + "A,40001.4H,String,1,RO,100,Linear,0,1,0,1\n", "linear scaling on a string"},
		{"bad quoting", header + "A,\"40001,Word\n", "kepware:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			_, err := Convert(strings.NewReader(tt.in), &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote output on error:\n%s", out.String())
			}
		})
	}
}

func TestConvertWarnings(t *testing.T) {
	t.Parallel()
	in := "\ufeffTag Name,Address,Data Type,Client Access,Scaling,Raw Low,Raw High,Scaled Low,Scaled High,Clamp Low,Clamp High,Alarm Class\n" +
		"A,30001,Word,R/W,Linear,0,10,0,1,1,0,x\n" +
		"\n" +
		"B,30002,Float,RO,Square Root,,,,,,,\n"
	var out bytes.Buffer
	warnings, err := Convert(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warnings, "\n")
	for _, want := range []string{
		`column 12 "Alarm Class" is unknown and ignored`,
		`row 2: tag "A": ir is read-only in Modbus; access set to read`,
		`row 2: tag "A": Kepware clamps only the low end`,
		`row 4: tag "B": square root scaling is not supported`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if !strings.Contains(out.String(), "- name: A\n    address: \"30001\"\n    type: uint16\n    access: read\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestConvertHeaderOnly(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if _, err := Convert(strings.NewReader(header), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "tags: []\n" {
		t.Errorf("output %q", out.String())
	}
}

func FuzzConvert(f *testing.F) {
	f.Add(header + "A,40001,Word,1,RO,100,None,,,,,,,,,,0\n")
	f.Add(header + "A,400001.010L,String\nB,40001.3,Boolean\n")
	f.Add("Tag Name,Address,Data Type\nx,hr:0,Float\n")
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		if _, err := Convert(strings.NewReader(in), &out); err != nil && out.Len() != 0 {
			t.Fatal("output on error")
		}
	})
}
