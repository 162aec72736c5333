package mtconnect

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/drivers/drivertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the driver suite against the fake agent. It is not
// parallel: the suite's leak check needs the process to itself.
func TestConformance(t *testing.T) {
	for _, mode := range []string{ModePoll, ModeStream} {
		t.Run(mode, func(t *testing.T) {
			drivertest.Suite{
				Open: func(t *testing.T) (drivers.Device, []drivers.Address) {
					a := newAgent(t, readFile(t, "v1.3/probe.xml"), readFile(t, "v1.3/current.xml"))
					a.set(func(a *fakeAgent) {
						a.stream = func(w http.ResponseWriter, r *http.Request, from uint64) {
							mw := startStream(w, "multipart/x-mixed-replace")
							_ = mw.part(emptySample(a.current, from))
							<-r.Context().Done()
						}
					})
					return openDev(t, a, map[string]any{"mode": mode}), []drivers.Address{
						ad("id:Xact", drivers.Float64), ad("name:Spindle_Speed", drivers.Float64),
						ad("id:pc", drivers.Int32), ad("id:exec", drivers.String), ad("id:motion", drivers.String),
					}
				},
				Bad: []drivers.Address{
					ad("id:nope", drivers.Float64), ad("id:Zfeed", drivers.Float64), ad("id:Xtravel", drivers.Int32),
				},
				OpenSlow: func(t *testing.T) (drivers.Device, []drivers.Address) {
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						<-r.Context().Done() // never answers
					}))
					t.Cleanup(srv.Close)
					dev, err := Driver{}.Open(t.Context(), "slow", map[string]any{"url": srv.URL, "timeout": "1m"})
					if err != nil {
						t.Fatal(err)
					}
					return dev, []drivers.Address{ad("id:Xact", drivers.Float64)}
				},
			}.Run(t)
		})
	}
}
