package ratelimit

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Decision results, the values of the result label.
const (
	ResultAllowed       = "allowed"
	ResultLimited       = "limited"
	ResultShadowLimited = "shadow_limited"
)

// OtherMethod is the method label once the method cap is reached.
const OtherMethod = "other"

// maxMethods caps the method label. Only methods with a rate limit in their
// policy are ever counted, so the cap is a backstop, not a working limit.
const maxMethods = 1000

// Metrics are the rate limiter's Prometheus metrics:
//
//	portcullis_ratelimit_decisions_total{method,result}  counter
//	portcullis_ratelimit_store_errors_total               counter
//	portcullis_ratelimit_degraded                         gauge (1 while a Fallback is degraded)
//
// result is "allowed", "limited" (refused: over the rate, or too many
// concurrent streams) or "shadow_limited" (over a shadow limit, let
// through). Calls refused because the store failed are counted only in
// store_errors_total. method is the full method name; only methods whose
// policy has a limit are counted, so the label is bounded by the policy
// table (and capped at 1000, then "other").
//
// Metrics is a prometheus.Collector: register it yourself. Pass it to the
// interceptors with WithMetrics and to a Fallback with WithFallbackMetrics.
// It is safe for concurrent use.
type Metrics struct {
	decisions   *prometheus.CounterVec
	storeErrors prometheus.Counter
	degraded    prometheus.Gauge

	series sync.Map // method → *methodSeries
	mu     sync.Mutex
	n      int
}

type methodSeries struct {
	allowed, limited, shadow prometheus.Counter
}

// NewMetrics returns new, zero Metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_ratelimit_decisions_total",
			Help: "Rate limit decisions, by full method and result (allowed, limited, shadow_limited).",
		}, []string{"method", "result"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_ratelimit_store_errors_total",
			Help: "Rate limit store calls that failed or timed out.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_ratelimit_degraded",
			Help: "1 while the shared rate limit store is unreachable and limits are local or fail closed.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.decisions.Describe(ch)
	m.storeErrors.Describe(ch)
	m.degraded.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.decisions.Collect(ch)
	m.storeErrors.Collect(ch)
	m.degraded.Collect(ch)
}

// SetDegraded sets portcullis_ratelimit_degraded to 1 or 0, for stores
// other than Fallback that have a degraded state.
func (m *Metrics) SetDegraded(degraded bool) {
	if degraded {
		m.degraded.Set(1)
	} else {
		m.degraded.Set(0)
	}
}

// observe counts one decision. Nil Metrics count nothing.
func (m *Metrics) observe(method, result string) {
	if m == nil {
		return
	}
	s := m.lookup(method)
	switch result {
	case ResultAllowed:
		s.allowed.Inc()
	case ResultLimited:
		s.limited.Inc()
	default:
		s.shadow.Inc()
	}
}

// storeError counts one store failure. Nil Metrics count nothing.
func (m *Metrics) storeError() {
	if m != nil {
		m.storeErrors.Inc()
	}
}

func (m *Metrics) lookup(method string) *methodSeries {
	if s, ok := m.series.Load(method); ok {
		return s.(*methodSeries)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.series.Load(method); ok {
		return s.(*methodSeries)
	}
	if m.n >= maxMethods {
		// Over the cap: count under "other", without remembering method.
		method = OtherMethod
		if s, ok := m.series.Load(method); ok {
			return s.(*methodSeries)
		}
	}
	m.n++
	s := &methodSeries{
		allowed: m.decisions.WithLabelValues(method, ResultAllowed),
		limited: m.decisions.WithLabelValues(method, ResultLimited),
		shadow:  m.decisions.WithLabelValues(method, ResultShadowLimited),
	}
	m.series.Store(method, s)
	return s
}
