package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/interceptors/metrics"
)

func (g *Gateway) buildMetrics() error {
	g.prom = prometheus.NewRegistry()
	m, err := metrics.New(metrics.WithMethodFilter(func(full string) bool {
		_, ok := g.registry.Lookup(full)
		return ok || gatewayOwned(full)
	}))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.metrics = m
	g.upstream = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_upstream_errors_total",
		Help: "Proxied calls that ended with an error status, by routed service and code.",
	}, []string{"service", "code"})
	g.shadowDisagree = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_shadow_disagreements_total",
		Help: "Calls the shadow candidate bundle decided differently from the live one, by method and direction.",
	}, []string{"method", "direction"})
	g.bundleEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_bundle_loads_total",
		Help: "Policy bundle load events by stage and result (ok, error).",
	}, []string{"stage", "result"})
	g.prom.MustRegister(m, g.upstream, g.shadowDisagree, g.bundleEvents,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return nil
}

// buildAdmin serves /metrics, /healthz (the process is up) and /readyz
// (listening and not draining).
func (g *Gateway) buildAdmin() {
	if g.cfg.Listeners.Admin == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.prom, promhttp.HandlerOpts{}))
	if g.signer != nil {
		mux.Handle("GET "+assertion.JWKSPath, g.signer) // keys backends verify assertions with
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !g.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true) // gRPC on a loopback plaintext admin listener
	g.admin = &http.Server{
		Handler:           g.adminHandler(mux),
		Protocols:         &protocols,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}
