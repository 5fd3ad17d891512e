package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/metrics"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newMetrics returns Metrics registered in a fresh pedantic registry, which
// also checks that Describe and Collect agree.
func newMetrics(t testing.TB, opts ...metrics.Option) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	m, err := metrics.New(opts...)
	if err != nil {
		t.Fatalf("metrics.New() = %v, want nil", err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatalf("Register(Metrics) = %v, want nil", err)
	}
	return m, reg
}

// sample is the value of one series.
type sample struct {
	value float64 // counter or gauge value, or histogram sample count
}

// gather returns family name → labels → sample.
func gather(t *testing.T, reg *prometheus.Registry) map[string]map[string]sample {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v, want nil", err)
	}
	out := make(map[string]map[string]sample)
	for _, mf := range mfs {
		series := make(map[string]sample)
		for _, m := range mf.GetMetric() {
			series[labels(m)] = sample{value: value(mf.GetType(), m)}
		}
		out[mf.GetName()] = series
	}
	return out
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}

const (
	requestsTotal = "portcullis_requests_total"
	duration      = "portcullis_request_duration_seconds"
	inFlight      = "portcullis_requests_in_flight"
)

func reqLabels(method, code, transport string) string {
	return fmt.Sprintf("code=%s,method=%s,transport=%s", code, method, transport)
}

func durLabels(method, transport string) string {
	return fmt.Sprintf("method=%s,transport=%s", method, transport)
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []metrics.Option
		wantErr string
	}{
		{name: "defaults"},
		{name: "all options", opts: []metrics.Option{
			metrics.WithTransportFunc(func(context.Context) string { return "x" }),
			metrics.WithMethodFilter(func(string) bool { return true }),
			metrics.WithMaxMethods(1),
			metrics.WithBuckets(0.1, 1),
		}},
		{name: "nil transport", opts: []metrics.Option{metrics.WithTransportFunc(nil)}, wantErr: "metrics: nil"},
		{name: "nil filter", opts: []metrics.Option{metrics.WithMethodFilter(nil)}, wantErr: "metrics: nil"},
		{name: "zero cap", opts: []metrics.Option{metrics.WithMaxMethods(0)}, wantErr: "metrics: WithMaxMethods(0)"},
		{name: "no buckets", opts: []metrics.Option{metrics.WithBuckets()}, wantErr: "metrics: WithBuckets: no buckets"},
		{name: "equal buckets", opts: []metrics.Option{metrics.WithBuckets(1, 1)}, wantErr: "metrics: WithBuckets: bucket 1"},
		{name: "decreasing buckets", opts: []metrics.Option{metrics.WithBuckets(1, 2, 0.5)}, wantErr: "metrics: WithBuckets: bucket 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := metrics.New(tc.opts...)
			if tc.wantErr == "" {
				if err != nil || m == nil {
					t.Fatalf("New(%s) = %v, %v, want Metrics, nil", tc.name, m, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("New(%s) = %v, want error starting %q", tc.name, err, tc.wantErr)
			}
		})
	}
}

// outcomes are what the fake handlers do.
var outcomes = []struct {
	name     string
	run      func() error
	wantCode string
	panics   bool
}{
	{name: "ok", run: func() error { return nil }, wantCode: "OK"},
	{name: "status", run: func() error { return status.Error(codes.PermissionDenied, "no") }, wantCode: "PermissionDenied"},
	{name: "plain error", run: func() error { return errors.New("boom") }, wantCode: "Unknown"},
	{name: "out of range code", run: func() error { return status.Error(codes.Code(42), "odd") }, wantCode: "Code(42)"},
	{name: "panic", run: func() error { panic("boom") }, wantCode: "Internal", panics: true},
}

// interceptor calls one of the two interceptors as a plain function.
type interceptor struct {
	name string
	call func(ctx context.Context, m *metrics.Metrics, method string, run func() error) error
}

var interceptors = []interceptor{
	{name: "UnaryServerInterceptor", call: func(ctx context.Context, m *metrics.Metrics, method string, run func() error) error {
		_, err := m.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method},
			func(context.Context, any) (any, error) { return nil, run() })
		return err
	}},
	{name: "StreamServerInterceptor", call: func(ctx context.Context, m *metrics.Metrics, method string, run func() error) error {
		return m.StreamServerInterceptor()(nil, grpctest.NewStream(ctx), &grpc.StreamServerInfo{FullMethod: method},
			func(any, grpc.ServerStream) error { return run() })
	}},
}

// callRecovering runs one call and swallows a panic, as recovery would.
func callRecovering(ctx context.Context, ic interceptor, m *metrics.Metrics, method string, run func() error) (panicked bool, err error) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	return false, ic.call(ctx, m, method, run)
}

func TestInterceptorsOutcomes(t *testing.T) {
	const method = "/bank.v1.Bank/Transfer"
	for _, ic := range interceptors {
		for _, tc := range outcomes {
			t.Run(ic.name+"/"+tc.name, func(t *testing.T) {
				m, reg := newMetrics(t)
				var flightDuring float64
				panicked, err := callRecovering(testContext(t), ic, m, method, func() error {
					flightDuring = gather(t, reg)[inFlight]["transport=grpc"].value
					return tc.run()
				})
				if panicked != tc.panics {
					t.Fatalf("%s(%s) panicked = %v, want %v", ic.name, tc.name, panicked, tc.panics)
				}
				if !tc.panics && status.Code(err).String() != tc.wantCode {
					t.Errorf("%s(%s) = %v, want code %s (unchanged)", ic.name, tc.name, err, tc.wantCode)
				}
				got := gather(t, reg)
				if v := got[requestsTotal][reqLabels(method, tc.wantCode, "grpc")].value; v != 1 {
					t.Errorf("%s{%s} = %v, want 1 (all: %v)", requestsTotal, reqLabels(method, tc.wantCode, "grpc"), v, got[requestsTotal])
				}
				if n := len(got[requestsTotal]); n != 1 {
					t.Errorf("%s series = %d, want 1", requestsTotal, n)
				}
				if v := got[duration][durLabels(method, "grpc")].value; v != 1 {
					t.Errorf("%s{%s} count = %v, want 1", duration, durLabels(method, "grpc"), v)
				}
				if flightDuring != 1 {
					t.Errorf("%s during call = %v, want 1", inFlight, flightDuring)
				}
				if v := got[inFlight]["transport=grpc"].value; v != 0 {
					t.Errorf("%s after call = %v, want 0", inFlight, v)
				}
			})
		}
	}
}

func TestLabels(t *testing.T) {
	const known = "/bank.v1.Bank/Transfer"
	onlyKnown := metrics.WithMethodFilter(func(m string) bool { return m == known })
	for _, tc := range []struct {
		name          string
		opts          []metrics.Option
		method        string
		md            metadata.MD
		wantMethod    string
		wantTransport string
	}{
		{name: "default grpc", method: known, wantMethod: known, wantTransport: "grpc"},
		{name: "http", method: known, md: metadata.Pairs(metrics.TransportKey, "http"), wantMethod: known, wantTransport: "http"},
		{name: "http upper-case value", method: known, md: metadata.Pairs(metrics.TransportKey, "HTTP"), wantMethod: known, wantTransport: "grpc"},
		{name: "spoofed transport", method: known, md: metadata.Pairs(metrics.TransportKey, "x"+strings.Repeat("y", 50)), wantMethod: known, wantTransport: "grpc"},
		{name: "two transports", method: known, md: metadata.Pairs(metrics.TransportKey, "http", metrics.TransportKey, "http"), wantMethod: known, wantTransport: "grpc"},
		{name: "custom transport", opts: []metrics.Option{metrics.WithTransportFunc(func(context.Context) string { return "inproc" })}, method: known, wantMethod: known, wantTransport: "inproc"},
		{name: "filter known", opts: []metrics.Option{onlyKnown}, method: known, wantMethod: known, wantTransport: "grpc"},
		{name: "filter unknown", opts: []metrics.Option{onlyKnown}, method: "/evil.Svc/Random123", wantMethod: "unknown", wantTransport: "grpc"},
		{name: "default malformed no slash", method: "garbage", wantMethod: "unknown", wantTransport: "grpc"},
		{name: "default malformed three parts", method: "/a/b/c", wantMethod: "unknown", wantTransport: "grpc"},
		{name: "default malformed empty service", method: "//m", wantMethod: "unknown", wantTransport: "grpc"},
		{name: "default malformed empty method", method: "/svc/", wantMethod: "unknown", wantTransport: "grpc"},
		{name: "default well-formed", method: "/x.Y/Z", wantMethod: "/x.Y/Z", wantTransport: "grpc"},
	} {
		for _, ic := range interceptors {
			t.Run(tc.name+"/"+ic.name, func(t *testing.T) {
				m, reg := newMetrics(t, tc.opts...)
				ctx := testContext(t)
				if tc.md != nil {
					ctx = metadata.NewIncomingContext(ctx, tc.md)
				}
				if err := ic.call(ctx, m, tc.method, func() error { return nil }); err != nil {
					t.Fatalf("%s(%q) = %v, want nil", ic.name, tc.method, err)
				}
				got := gather(t, reg)
				want := reqLabels(tc.wantMethod, "OK", tc.wantTransport)
				if v := got[requestsTotal][want].value; v != 1 || len(got[requestsTotal]) != 1 {
					t.Errorf("%s(%q, %v) series = %v, want {%s: 1}", ic.name, tc.method, tc.md, got[requestsTotal], want)
				}
			})
		}
	}
}

func TestMaxMethods(t *testing.T) {
	m, reg := newMetrics(t, metrics.WithMaxMethods(2))
	ctx := testContext(t)
	intercept := m.UnaryServerInterceptor()
	ok := func(context.Context, any) (any, error) { return nil, nil }
	for _, method := range []string{"/a.S/One", "/a.S/Two", "/a.S/Three", "/a.S/Four", "/a.S/One", "/a.S/Two"} {
		if _, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, ok); err != nil {
			t.Fatalf("UnaryServerInterceptor(%s) = %v, want nil", method, err)
		}
	}
	got := gather(t, reg)[requestsTotal]
	want := map[string]float64{
		reqLabels("/a.S/One", "OK", "grpc"): 2,
		reqLabels("/a.S/Two", "OK", "grpc"): 2,
		reqLabels("unknown", "OK", "grpc"):  2,
	}
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", requestsTotal, got, want)
	}
	for k, v := range want {
		if got[k].value != v {
			t.Errorf("%s{%s} = %v, want %v", requestsTotal, k, got[k].value, v)
		}
	}
}

// TestExposition checks the exact names, help and labels of the counter
// and gauge as Prometheus scrapes them.
func TestExposition(t *testing.T) {
	m, reg := newMetrics(t)
	ctx := metadata.NewIncomingContext(testContext(t), metadata.Pairs(metrics.TransportKey, "http"))
	_, _ = m.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/bank.v1.Bank/Transfer"},
		func(context.Context, any) (any, error) {
			return nil, status.Error(codes.ResourceExhausted, "slow down")
		})
	const want = `
# HELP portcullis_requests_in_flight gRPC calls in progress, by transport.
# TYPE portcullis_requests_in_flight gauge
portcullis_requests_in_flight{transport="http"} 0
# HELP portcullis_requests_total gRPC calls completed by the gateway, by full method, status code and transport.
# TYPE portcullis_requests_total counter
portcullis_requests_total{code="ResourceExhausted",method="/bank.v1.Bank/Transfer",transport="http"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), requestsTotal, inFlight); err != nil {
		t.Errorf("GatherAndCompare() = %v, want nil", err)
	}
	if n, err := testutil.GatherAndCount(reg, duration); n != 1 || err != nil {
		t.Errorf("GatherAndCount(%s) = %d, %v, want 1, nil", duration, n, err)
	}
}

func TestConcurrent(t *testing.T) {
	m, reg := newMetrics(t)
	intercept := m.StreamServerInterceptor()
	const workers, calls = 8, 100
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				method := fmt.Sprintf("/a.S/M%d", (w+i)%4)
				_ = intercept(nil, grpctest.NewStream(context.Background()), &grpc.StreamServerInfo{FullMethod: method},
					func(any, grpc.ServerStream) error { return nil })
			}
		})
	}
	wg.Wait()
	var total float64
	for _, s := range gather(t, reg)[requestsTotal] {
		total += s.value
	}
	if total != workers*calls {
		t.Errorf("sum(%s) = %v, want %d", requestsTotal, total, workers*calls)
	}
}

// TestServer runs both interceptors in a real grpc.Server over bufconn
// across every RPC kind and on the unknown-service (proxy) path.
func TestServer(t *testing.T) {
	known := map[string]bool{}
	for _, c := range grpctest.Calls() {
		known[c.Method] = true
	}
	m, reg := newMetrics(t, metrics.WithMethodFilter(func(name string) bool { return known[name] }))
	var fail sync.Map // method → error
	srv := grpctest.Start(t, func(ctx context.Context) error {
		name, _ := grpc.Method(ctx)
		if err, ok := fail.Load(name); ok {
			return err.(error)
		}
		return nil
	},
		grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor()),
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return status.Error(codes.Unimplemented, "unknown method")
		}),
	)
	for _, c := range grpctest.Calls() {
		t.Run(c.Name, func(t *testing.T) {
			ctx := testContext(t)
			if err := c.Invoke(ctx, srv.Client); err != nil {
				t.Fatalf("%s() = %v, want nil", c.Method, err)
			}
			httpCtx := metadata.AppendToOutgoingContext(ctx, metrics.TransportKey, "http")
			if err := c.Invoke(httpCtx, srv.Client); err != nil {
				t.Fatalf("%s(http) = %v, want nil", c.Method, err)
			}
			fail.Store(c.Method, status.Error(codes.Aborted, "conflict"))
			if err := c.Invoke(ctx, srv.Client); status.Code(err) != codes.Aborted {
				t.Fatalf("%s(failing) = %v, want %v", c.Method, err, codes.Aborted)
			}
			got := gather(t, reg)
			for _, k := range []string{reqLabels(c.Method, "OK", "grpc"), reqLabels(c.Method, "OK", "http"), reqLabels(c.Method, "Aborted", "grpc")} {
				if v := got[requestsTotal][k].value; v != 1 {
					t.Errorf("%s{%s} = %v, want 1", requestsTotal, k, v)
				}
			}
			if v := got[duration][durLabels(c.Method, "grpc")].value; v != 2 {
				t.Errorf("%s{%s} count = %v, want 2", duration, durLabels(c.Method, "grpc"), v)
			}
		})
	}

	// Random method names on the proxy path all land in one series.
	ctx := testContext(t)
	for i := range 5 {
		name := fmt.Sprintf("/attacker.Svc%d/M%d", i, i)
		if err := srv.Conn.Invoke(ctx, name, &testpb.Empty{}, &testpb.Empty{}); status.Code(err) != codes.Unimplemented {
			t.Fatalf("Invoke(%s) = %v, want %v", name, err, codes.Unimplemented)
		}
	}
	got := gather(t, reg)
	if v := got[requestsTotal][reqLabels("unknown", "Unimplemented", "grpc")].value; v != 5 {
		t.Errorf("%s{%s} = %v, want 5", requestsTotal, reqLabels("unknown", "Unimplemented", "grpc"), v)
	}
	for k := range got[requestsTotal] {
		if strings.Contains(k, "attacker") {
			t.Errorf("%s has series %s, want none for unknown methods", requestsTotal, k)
		}
	}
	for tr, s := range got[inFlight] {
		if s.value != 0 {
			t.Errorf("%s{%s} = %v after all calls, want 0", inFlight, tr, s.value)
		}
	}
}

// benchStream is a grpc.ServerStream that only has a context.
type benchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *benchStream) Context() context.Context { return s.ctx }

func BenchmarkStreamInterceptor(b *testing.B) {
	const method = "/bank.v1.Bank/Transfer"
	md := metadata.Pairs("authorization", "Bearer x", "user-agent", "grpc-go/1.85")
	for _, bc := range []struct {
		name   string
		method string
		md     metadata.MD
	}{
		{name: "grpc", method: method, md: md},
		{name: "http", method: method, md: metadata.Join(md, metadata.Pairs(metrics.TransportKey, "http"))},
		{name: "unknown", method: "/evil.Svc/Random", md: md},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m, _ := newMetrics(b, metrics.WithMethodFilter(func(name string) bool { return name == method }))
			intercept := m.StreamServerInterceptor()
			ss := &benchStream{ctx: metadata.NewIncomingContext(context.Background(), bc.md)}
			info := &grpc.StreamServerInfo{FullMethod: bc.method}
			handler := func(any, grpc.ServerStream) error { return nil }
			b.ReportAllocs()
			for b.Loop() {
				_ = intercept(nil, ss, info, handler)
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		m, _ := newMetrics(b)
		intercept := m.StreamServerInterceptor()
		ss := &benchStream{ctx: metadata.NewIncomingContext(context.Background(), md)}
		info := &grpc.StreamServerInfo{FullMethod: method}
		handler := func(any, grpc.ServerStream) error { return nil }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = intercept(nil, ss, info, handler)
			}
		})
	})
}

func BenchmarkUnaryInterceptor(b *testing.B) {
	m, _ := newMetrics(b)
	intercept := m.UnaryServerInterceptor()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer x"))
	info := &grpc.UnaryServerInfo{FullMethod: "/bank.v1.Bank/Transfer"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = intercept(ctx, nil, info, handler)
	}
}
