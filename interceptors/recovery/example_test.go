package recovery_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/recovery"
)

func ExampleUnaryServerInterceptor() {
	// Drop the time and stack so that the output is stable.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "stack" {
				return slog.Attr{}
			}
			return a
		},
	}))
	intercept := recovery.UnaryServerInterceptor(
		recovery.WithLogger(logger),
		recovery.WithCounter(func(m string) { fmt.Println("panics in", m, "+1") }),
	)
	_, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/bank.v1.Bank/Transfer"},
		func(context.Context, any) (any, error) { panic("ledger is nil") })
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// level=ERROR msg="recovered panic in gRPC handler" grpc.method=/bank.v1.Bank/Transfer panic="ledger is nil"
	// panics in /bank.v1.Bank/Transfer +1
	// Internal internal error
}

func ExampleStreamServerInterceptor() {
	// Recovery is the outermost interceptor of the chain.
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor()),
	)
	defer srv.Stop()
	fmt.Println("server ready")
	// Output: server ready
}
