package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// UnknownMethod is the method label of calls whose method name the filter
// rejects or that exceed the WithMaxMethods cap.
const UnknownMethod = "unknown"

// Metrics holds the gateway's request metrics. It implements
// prometheus.Collector; register it with a prometheus.Registerer. A Metrics
// is safe for concurrent use, and its interceptors may be installed on any
// number of servers.
type Metrics struct {
	o        *options
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec

	// series caches the label children of each (method, transport), so that
	// the hot path is one sync.Map probe instead of label hashing.
	series sync.Map // seriesKey → *series
	// methods is the set of method label values in use, for the cap.
	mu      sync.Mutex
	methods map[string]struct{}
}

type seriesKey struct{ method, transport string }

// series are the children of one (method, transport).
type series struct {
	method, transport string
	m                 *Metrics
	duration          prometheus.Observer
	inFlight          prometheus.Gauge
	// codes are created on first use, so that only codes that happen
	// become time series.
	codes [numCodes]atomic.Pointer[counter]
}

type counter struct{ c prometheus.Counter }

// numCodes is the number of gRPC codes, OK (0) to Unauthenticated (16).
const numCodes = int(codes.Unauthenticated) + 1

// New returns Metrics configured by opts. It fails on invalid options (nil
// functions, a cap below 1, buckets not strictly increasing).
func New(opts ...Option) (*Metrics, error) {
	o, err := evaluateOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Metrics{
		o: o,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_requests_total",
			Help: "gRPC calls completed by the gateway, by full method, status code and transport.",
		}, []string{"method", "code", "transport"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_request_duration_seconds",
			Help:    "Time from the start of a gRPC call to its status, in seconds, by full method and transport.",
			Buckets: o.buckets,
		}, []string{"method", "transport"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portcullis_requests_in_flight",
			Help: "gRPC calls in progress, by transport.",
		}, []string{"transport"}),
		methods: make(map[string]struct{}),
	}, nil
}

// Describe sends the descriptors of the three metrics. It implements
// prometheus.Collector and is safe for concurrent use.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
	m.inFlight.Describe(ch)
}

// Collect sends the current values of the three metrics. It implements
// prometheus.Collector and is safe for concurrent use.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
	m.inFlight.Collect(ch)
}

// UnaryServerInterceptor returns a unary server interceptor that counts the
// call, its status code and duration, and tracks it in flight. It does not
// change the call. It is safe for concurrent use.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (_ any, err error) {
		s := m.lookup(ctx, info.FullMethod)
		start := time.Now()
		s.inFlight.Inc()
		done := false
		defer func() {
			// A panic is on its way to the recovery interceptor, which
			// turns it into Internal: record that.
			if !done {
				s.observe(start, codes.Internal)
			}
			s.inFlight.Dec()
		}()
		resp, err := handler(ctx, req)
		done = true
		s.observe(start, status.Code(err))
		return resp, err
	}
}

// StreamServerInterceptor returns a stream server interceptor that counts
// the stream, its status code and duration (from start to status), and
// tracks it in flight. It does not wrap the stream or change the call, and
// it works on the transparent proxy path. It is safe for concurrent use.
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		s := m.lookup(ss.Context(), info.FullMethod)
		start := time.Now()
		s.inFlight.Inc()
		done := false
		defer func() {
			if !done {
				s.observe(start, codes.Internal)
			}
			s.inFlight.Dec()
		}()
		err := handler(srv, ss)
		done = true
		s.observe(start, status.Code(err))
		return err
	}
}

// observe records one finished call.
func (s *series) observe(start time.Time, code codes.Code) {
	s.duration.Observe(time.Since(start).Seconds())
	if int(code) >= numCodes {
		// A code outside the known range, only possible from a backend
		// that sends one: count it under its own name, off the fast path.
		s.m.requests.WithLabelValues(s.method, code.String(), s.transport).Inc()
		return
	}
	c := s.codes[code].Load()
	if c == nil {
		c = &counter{s.m.requests.WithLabelValues(s.method, code.String(), s.transport)}
		// Racing callers get the same child from the vec; either store wins.
		s.codes[code].Store(c)
	}
	c.c.Inc()
}

// lookup returns the series of the call, creating it on first use.
func (m *Metrics) lookup(ctx context.Context, fullMethod string) *series {
	method := fullMethod
	if !m.o.known(fullMethod) {
		method = UnknownMethod
	}
	k := seriesKey{method: method, transport: m.o.transport(ctx)}
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	return m.slowLookup(k)
}

// slowLookup applies the method cap and creates the series of k.
func (m *Metrics) slowLookup(k seriesKey) *series {
	if k.method != UnknownMethod && !m.admit(k.method) {
		k.method = UnknownMethod
		if s, ok := m.series.Load(k); ok {
			return s.(*series)
		}
	}
	s := &series{
		method:    k.method,
		transport: k.transport,
		m:         m,
		duration:  m.duration.WithLabelValues(k.method, k.transport),
		inFlight:  m.inFlight.WithLabelValues(k.transport),
	}
	actual, _ := m.series.LoadOrStore(k, s)
	return actual.(*series)
}

// admit reports whether method may be a label value: it already is one, or
// the cap leaves room for it.
func (m *Metrics) admit(method string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.methods[method]; ok {
		return true
	}
	if len(m.methods) >= m.o.maxMethods {
		return false
	}
	m.methods[method] = struct{}{}
	return true
}
