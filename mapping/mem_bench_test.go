package mapping

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/config"
)

// memConfig is the 100k-tag scenario of docs/benchmarks.md: 10 modbus
// devices, float32 tags at hr:0,2,4... Every string is its own allocation,
// as when the config comes from YAML.
func memConfig(devs, perDev int) *config.Config {
	cfg := &config.Config{}
	for d := range devs {
		cd := config.Device{
			Name: fmt.Sprintf("plc%02d", d), Driver: "modbus", Scan: time.Second,
			Options: map[string]any{"host": "127.0.0.1", "port": 502 + d},
		}
		cd.Tags = make([]config.Tag, perDev)
		for i := range cd.Tags {
			cd.Tags[i] = config.Tag{
				Name:    fmt.Sprintf("T%05d", i),
				Address: fmt.Sprintf("hr:%d", 2*i),
				Type:    string([]byte("float32")),
			}
		}
		cfg.Devices = append(cfg.Devices, cd)
	}
	return cfg
}

// BenchmarkCompileMemory reports the live heap the compiled tag table of
// 100k tags holds (B/tag) and, separately, the Store entries it creates
// (B/entry), after the config is dropped, as the gateway does.
func BenchmarkCompileMemory(b *testing.B) {
	const devs, perDev = 10, 10_000
	const n = devs * perDev
	var tblPer, storePer float64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		base := liveHeap()
		cfg := memConfig(devs, perDev)
		store := NewStore()
		b.StartTimer()
		tbl, err := Compile(cfg, store)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		cfg = nil
		total := liveHeap() - base
		runtime.KeepAlive(tbl)
		tbl = nil
		// The entries keep the path strings; the rest is the table's.
		storeOnly := liveHeap() - base
		runtime.KeepAlive(store)
		tblPer = float64(total-storeOnly) / n
		storePer = float64(storeOnly) / n
		b.StartTimer()
	}
	b.ReportMetric(tblPer, "B/tag")
	b.ReportMetric(storePer, "B/entry")
}

// liveHeap is HeapAlloc after two collections (the second frees what the
// first only unlinked), for a steadier figure than one.
func liveHeap() int64 {
	runtime.GC()
	return heapInUse()
}
