package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownGrace bounds a graceful shutdown: a scrape takes milliseconds, and
// the process must stop within 5 s of SIGTERM (DESIGN.md section 4).
const shutdownGrace = 2 * time.Second

// readyBody is the JSON answer of /readyz.
type readyBody struct {
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems"`
}

// Handler serves:
//
//	/metrics  Prometheus text format from this registry
//	/healthz  200 "ok" while the process serves HTTP (liveness)
//	/readyz   200 or 503 with {"ready":bool,"problems":[...]} from ready
//
// A nil ready always answers ready. Other paths are 404; methods other than
// GET and HEAD are 405.
func (m *Metrics) Handler(ready func() (ok bool, problems []string)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(m.reg,
		promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError, // one bad collector must not hide the rest
			Registry:      m.reg,
		})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		body := readyBody{Ready: true, Problems: []string{}}
		if ready != nil {
			ok, problems := ready()
			body.Ready = ok
			if problems != nil {
				body.Problems = problems
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !body.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Tagbridge\n/metrics  Prometheus metrics\n/healthz  liveness\n/readyz   readiness (JSON)\n"))
	})
	return mux
}

// Serve listens on addr (an error if the address is taken or invalid) and
// serves h in the background until ctx is done, then shuts down gracefully
// (in-flight scrapes get shutdownGrace to finish). It returns the bound
// address, which tells the real port when addr ends in ":0". A nil log
// discards the server's own error messages.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (net.Addr, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second, // a slow client must not pin a goroutine forever
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "listen", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
		case <-served: // Serve failed on its own; nothing left to shut down but the conns
		}
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-served
	}()
	return ln.Addr(), nil
}
