package requestid_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/requestid"
)

func ExampleUnaryServerInterceptor() {
	intercept := requestid.UnaryServerInterceptor()
	// The client sent its own request id and trace context.
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"x-request-id", "checkout-7f3a",
		"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	))
	_, _ = intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/bank.v1.Bank/Transfer"},
		func(ctx context.Context, _ any) (any, error) {
			info, _ := requestid.FromContext(ctx)
			fmt.Println("request id:", info.RequestID)
			fmt.Println("trace id:  ", info.TraceID)
			fmt.Println("parent:    ", info.ParentSpanID)
			// This hop records no span, so the client's traceparent goes on
			// unchanged: a proxy forwarding the incoming metadata sends it.
			md, _ := metadata.FromIncomingContext(ctx)
			fmt.Println("forwarded: ", md.Get("traceparent")[0])
			return nil, nil
		})
	// Output:
	// request id: checkout-7f3a
	// trace id:   4bf92f3577b34da6a3ce929d0e0e4736
	// parent:     00f067aa0ba902b7
	// forwarded:  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

func ExampleStreamServerInterceptor() {
	// Request ids come right after recovery in the chain, so that every
	// later interceptor and log line can use them.
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(requestid.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(requestid.StreamServerInterceptor(requestid.WithStartTraces(true))),
	)
	defer srv.Stop()
	fmt.Println("server ready")
	// Output: server ready
}

func ExampleFromContext() {
	// Start a trace (unsampled) for calls that come without one.
	intercept := requestid.UnaryServerInterceptor(requestid.WithStartTraces(false))
	// No usable client values: everything is generated.
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-request-id", "not valid!"))
	_, _ = intercept(ctx, nil, &grpc.UnaryServerInfo{}, func(ctx context.Context, _ any) (any, error) {
		info, ok := requestid.FromContext(ctx)
		fmt.Println(ok, len(info.RequestID), len(info.TraceID), len(info.SpanID), info.ParentSpanID == "", info.TraceParent[53:])
		return nil, nil
	})
	// Output: true 32 32 16 true 00
}
