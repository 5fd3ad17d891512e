package resolve_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

func exampleRegistry() *policy.Registry {
	reg, err := policy.NewRegistry(&policy.Table{
		File:        "examples/bank/v1/bank.proto",
		Permissions: []policy.Permission{{Name: "bank.transfers.create"}},
		Methods: []policy.Method{{
			FullMethod:  "/bank.v1.Bank/Transfer",
			Permissions: []string{"bank.transfers.create"},
		}},
	})
	if err != nil {
		panic(err)
	}
	return reg
}

func ExampleUnaryServerInterceptor() {
	intercept := resolve.UnaryServerInterceptor(exampleRegistry(),
		resolve.WithAllow(func(m string) bool { return m == "/grpc.health.v1.Health/Check" }))
	handler := func(ctx context.Context, _ any) (any, error) {
		if m, ok := resolve.FromContext(ctx); ok {
			fmt.Println("  policy requires", m.Permissions)
		} else {
			fmt.Println("  no policy")
		}
		return nil, nil
	}
	for _, name := range []string{"/bank.v1.Bank/Transfer", "/grpc.health.v1.Health/Check", "/bank.v1.Bank/Steal"} {
		fmt.Println(name)
		_, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: name}, handler)
		if err != nil {
			fmt.Println("  denied:", status.Code(err), status.Convert(err).Message())
		}
	}
	// Output:
	// /bank.v1.Bank/Transfer
	//   policy requires [bank.transfers.create]
	// /grpc.health.v1.Health/Check
	//   no policy
	// /bank.v1.Bank/Steal
	//   denied: Unimplemented unknown method
}

func ExampleStreamServerInterceptor() {
	reg := exampleRegistry()
	// Resolution runs after recovery, request ids and metrics, and before
	// authentication; on the proxy path it is what keeps unknown methods
	// from ever reaching a backend.
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(resolve.UnaryServerInterceptor(reg)),
		grpc.ChainStreamInterceptor(resolve.StreamServerInterceptor(reg)),
	)
	defer srv.Stop()
	fmt.Println(reg.Len(), "method")
	// Output: 1 method
}

func ExampleResolverFunc() {
	// A fixed policy for every method, e.g. in a test.
	public := &policy.Method{Public: true, PublicReason: "test"}
	r := resolve.ResolverFunc(func(string) (*policy.Method, bool) { return public, true })
	_, _ = resolve.UnaryServerInterceptor(r)(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/a.B/C"},
		func(ctx context.Context, _ any) (any, error) {
			m, _ := resolve.FromContext(ctx)
			fmt.Println(m.Public, m.PublicReason)
			return nil, nil
		})
	// Output: true test
}
