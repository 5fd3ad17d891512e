package metrics_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/interceptors/metrics"
)

func ExampleNew() {
	known := map[string]bool{"/bank.v1.Bank/Transfer": true}
	m, err := metrics.New(
		metrics.WithMethodFilter(func(name string) bool { return known[name] }),
		metrics.WithBuckets(0.01, 0.1, 1),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor()),
	)
	defer srv.Stop()
	fmt.Println(testutil.CollectAndCount(m))
	// Output: 0
}

func ExampleMetrics_UnaryServerInterceptor() {
	m, _ := metrics.New(metrics.WithMethodFilter(func(name string) bool {
		return name == "/bank.v1.Bank/Transfer"
	}))
	intercept := m.UnaryServerInterceptor()
	ok := func(context.Context, any) (any, error) { return "done", nil }
	for _, name := range []string{"/bank.v1.Bank/Transfer", "/random.Guess/A", "/random.Guess/B"} {
		_, _ = intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: name}, ok)
	}
	const want = `
# HELP portcullis_requests_total gRPC calls completed by the gateway, by full method, status code and transport.
# TYPE portcullis_requests_total counter
portcullis_requests_total{code="OK",method="/bank.v1.Bank/Transfer",transport="grpc"} 1
portcullis_requests_total{code="OK",method="unknown",transport="grpc"} 2
`
	fmt.Println(testutil.CollectAndCompare(m, strings.NewReader(want), "portcullis_requests_total"))
	// Output: <nil>
}

// exampleStream stands in for the stream grpc-go passes to interceptors.
type exampleStream struct{ grpc.ServerStream }

func (exampleStream) Context() context.Context { return context.Background() }

func ExampleMetrics_StreamServerInterceptor() {
	m, _ := metrics.New(
		// Count every in-process call as its own transport.
		metrics.WithTransportFunc(func(context.Context) string { return "inproc" }),
	)
	err := m.StreamServerInterceptor()(nil, exampleStream{}, &grpc.StreamServerInfo{FullMethod: "/bank.v1.Bank/Watch"},
		func(any, grpc.ServerStream) error { return nil })
	const want = `
# HELP portcullis_requests_in_flight gRPC calls in progress, by transport.
# TYPE portcullis_requests_in_flight gauge
portcullis_requests_in_flight{transport="inproc"} 0
# HELP portcullis_requests_total gRPC calls completed by the gateway, by full method, status code and transport.
# TYPE portcullis_requests_total counter
portcullis_requests_total{code="OK",method="/bank.v1.Bank/Watch",transport="inproc"} 1
`
	fmt.Println(err, testutil.CollectAndCompare(m, strings.NewReader(want),
		"portcullis_requests_total", "portcullis_requests_in_flight"))
	// Output: <nil> <nil>
}
