package poll

import (
	"context"
	"testing"
	"time"

	"github.com/tagbridge/tagbridge/drivers"
	_ "github.com/tagbridge/tagbridge/drivers/sim" // test peer only: poll itself never imports a driver
	"github.com/tagbridge/tagbridge/mapping"
)

// TestWithSimDriver runs the scheduler over the real simulator: values flow,
// a write reaches the simulated memory and comes back by read-back.
func TestWithSimDriver(t *testing.T) {
	t.Parallel()
	store := mapping.NewStore()
	tbl := compile(t, store, device("sim1", "sim", 10*time.Millisecond,
		tagSpec{name: "wave", addr: "sine:period=1s,amplitude=10"},
		tagSpec{name: "setpoint", addr: "memory:float64", rw: true}))
	s := New(tbl, Options{Logger: quietLogger()})
	start(t, s)
	waitFor(t, "sim values Good", func() bool {
		return value(tbl, "sim1/wave").Quality == drivers.Good && value(tbl, "sim1/setpoint").Quality == drivers.Good
	})
	if err := s.Write(context.Background(), tbl.Tag("sim1/setpoint"), 21.5); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if v := value(tbl, "sim1/setpoint"); v.V != 21.5 || v.Quality != drivers.Good {
		t.Errorf("setpoint after write = %+v, want 21.5 Good", v)
	}
}
