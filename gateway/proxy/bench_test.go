package proxy_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// echo is a TestService that does nothing but echo, so the benchmark
// measures gRPC and the proxy rather than the test backend's bookkeeping.
type echo struct {
	testpb.UnimplementedTestServiceServer
}

func (echo) UnaryCall(_ context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// BenchmarkProxyUnary compares a unary call on loopback made straight to
// the backend with the same call through the gateway (one more hop: client
// → gateway → backend). All three run in this process, so allocations
// include the client's and the backend's as well as the gateway's.
func BenchmarkProxyUnary(b *testing.B) {
	e := newEnv(b, envConfig{service: echo{}})
	cc, err := grpc.NewClient(e.backendAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatalf("grpc.NewClient(backend) = %v", err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	req := &testpb.SimpleRequest{Payload: payload(128)}
	for _, bc := range []struct {
		name   string
		client testpb.TestServiceClient
	}{
		{"direct", testpb.NewTestServiceClient(cc)},
		{"proxy", e.client},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := bc.client.UnaryCall(ctx, req); err != nil { // connect outside the timing
				b.Fatalf("UnaryCall() = %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.client.UnaryCall(ctx, req); err != nil {
					b.Fatalf("UnaryCall() = %v", err)
				}
			}
		})
	}
}
