package mapping

import "testing"

func TestUnit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, code string
		id         int32
	}{
		{"degC", "CEL", 4408652}, {"degF", "FAH", 4604232}, {"K", "KEL", 4932940}, {"bar", "BAR", 4342098},
		{"mbar", "MBR", 0x4D4252}, {"Pa", "PAL", 0x50414C}, {"kPa", "KPA", 0x4B5041}, {"MPa", "MPA", 0x4D5041},
		{"psi", "PS", 0x5053}, {"%", "P1", 20529}, {"rpm", "RPM", 5394509}, {"Hz", "HTZ", 0x48545A},
		{"A", "AMP", 0x414D50}, {"mA", "4K", 13387}, {"V", "VLT", 5655636}, {"W", "WTT", 0x575454},
		{"kW", "KWT", 0x4B5754}, {"kWh", "KWH", 0x4B5748}, {"m", "MTR", 5067858}, {"mm", "MMT", 5066068},
		{"um", "4H", 0x3448}, {"m/s", "MTS", 0x4D5453}, {"mm/s", "C16", 0x433136}, {"m3/h", "MQH", 0x4D5148},
		{"l/min", "L2", 0x4C32}, {"kg", "KGM", 4933453}, {"t", "TNE", 0x544E45}, {"N", "NEW", 0x4E4557},
		{"Nm", "NU", 0x4E55}, {"s", "SEC", 5457219}, {"ms", "C26", 0x433236}, {"h", "HUR", 0x485552},
		{"°C", "CEL", 4408652}, {"µm", "4H", 0x3448},
	}
	for _, tc := range cases {
		u, ok := Unit(tc.name)
		if !ok || u.Code != tc.code || u.UnitID != tc.id || u.NamespaceURI != UnitsNamespace || u.DisplayName == "" || u.Description == "" {
			t.Errorf("Unit(%q) = %+v, %v; want %s %d", tc.name, u, ok, tc.code, tc.id)
		}
	}
	for _, n := range UnitNames() {
		if _, ok := Unit(n); !ok {
			t.Errorf("UnitNames lists unknown %q", n)
		}
	}
	if len(UnitNames()) != 32 {
		t.Errorf("%d unit names", len(UnitNames()))
	}
	for _, n := range []string{"", "furlong", "DEGC", "MM"} {
		if _, ok := Unit(n); ok {
			t.Errorf("Unit(%q) known", n)
		}
	}
}
