package uaserver

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

var allTypes = []drivers.Type{
	drivers.Bool, drivers.Int16, drivers.Uint16, drivers.BCD16, drivers.Int32, drivers.Uint32, drivers.BCD32,
	drivers.Int64, drivers.Uint64, drivers.Float32, drivers.Float64, drivers.String, drivers.Type(200),
}

// checkTagValue compares the held-value encoder with gopcua's encoding of
// the DataValue the read path builds for the same store value.
func checkTagValue(t *testing.T, typ drivers.Type, v mapping.Value) {
	t.Helper()
	for _, ts := range []ua.TimestampsToReturn{ua.TimestampsToReturnSource, ua.TimestampsToReturnServer,
		ua.TimestampsToReturnBoth, ua.TimestampsToReturnNeither} {
		want, err := ua.Encode(dataValue(&mapping.Tag{Type: typ}, v, ts))
		if err != nil {
			t.Fatal(err)
		}
		got := appendTagValue(nil, typ, sampleOf(v), ts, 0)
		if !bytes.Equal(got, want) {
			t.Fatalf("type %v value %#v ts %v:\n got %x\nwant %x", typ, v.V, ts, got, want)
		}
	}
}

func TestAppendTagValue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 21, 30, 0, 123456789, time.UTC)
	values := []any{nil, true, false, int16(-3), uint16(65535), int32(-70000), uint32(1 << 31), int64(-1 << 40),
		uint64(1 << 63), float32(1.5), 2.25, math.NaN(), -7.9, "press 3", "", 42, uint8(9), []byte("x"), struct{}{}}
	for _, typ := range allTypes {
		for _, x := range values {
			for _, q := range []drivers.Quality{drivers.Good, drivers.BadWaitingForInitialData} {
				checkTagValue(t, typ, mapping.Value{V: x, Quality: q, Source: now, Server: now.Add(time.Millisecond)})
				checkTagValue(t, typ, mapping.Value{V: x, Quality: q, Server: now}) // no source timestamp
			}
		}
	}
}

func FuzzAppendTagValue(f *testing.F) {
	f.Add(uint8(10), 1.5, int64(7), "Line1", int64(1700000000123456789))
	f.Add(uint8(0), -1.0, int64(-1), "", int64(0))
	f.Fuzz(func(t *testing.T, typ uint8, x float64, i int64, s string, ns int64) {
		src := time.Unix(0, ns)
		for _, v := range []any{x, i, uint64(i), float32(x), s, i&1 == 0, nil} {
			checkTagValue(t, allTypes[int(typ)%len(allTypes)], mapping.Value{V: v, Quality: drivers.Quality(i), Source: src, Server: src})
		}
	})
}
