// Package metrics owns Tagbridge's observability endpoint: the Prometheus
// registry and every tagbridge_* metric, the scheduler's event hooks (it
// implements internal/poll.Metrics), and the /metrics, /healthz and /readyz
// HTTP handlers with their listener.
//
// Counters fed by events (scans, errors, reconnects, demotions, writes,
// reloads) are updated on the hot path through cached per-device children.
// Gauges and counters owned by other packages (device state, link queues, OPC
// UA sessions) are read at scrape time through small provider interfaces
// declared here, which the wiring adapts from the real types.
//
// It imports drivers (for Quality), client_golang and the standard library. It
// must never import internal/poll, internal/uaserver, config, mapping or a
// driver package: the wiring in cmd/tagbridge (or internal/gateway) adapts
// their types to the interfaces declared here.
package metrics
