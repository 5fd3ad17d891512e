package audit_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/policy"
)

// Example wires a file log into a server's interceptor chain, records a
// call and verifies the log.
func Example() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	fs, err := audit.NewFileSink(dir)
	if err != nil {
		panic(err)
	}
	l, err := audit.New([]audit.Sink{fs}) // Close flushes and seals
	if err != nil {
		panic(err)
	}
	method := &policy.Method{FullMethod: "/bank.v1.Bank/GetAccount", Permissions: []string{"bank.accounts.read"}}
	opts := []audit.Option{
		// The gateway passes resolve.FromContext.
		audit.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return method, true }),
	}
	// Audit goes before authentication, so that refused calls are recorded.
	_ = grpc.NewServer(
		grpc.ChainUnaryInterceptor(audit.UnaryServerInterceptor(l, opts...) /*, authn, authz, ... */),
		grpc.ChainStreamInterceptor(audit.StreamServerInterceptor(l, opts...) /*, authn, authz, ... */),
	)

	// What one call looks like to the interceptor.
	unary := audit.UnaryServerInterceptor(l, opts...)
	_, _ = unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method.FullMethod},
		func(ctx context.Context, _ any) (any, error) {
			rec := policy.RecordFrom(ctx) // filled by authentication and authorization
			rec.Principal = &policy.Principal{ID: "alice", Kind: policy.KindUser}
			rec.Decision = &policy.Decision{Allowed: true, Reason: "granted", BundleVersion: "v1"}
			return nil, nil
		})
	if err := l.Close(); err != nil {
		panic(err)
	}
	r, err := audit.Verify(dir)
	fmt.Println(r.OK(), r.Records, r.Sealed, err)
	// Output: true 1 1 <nil>
}

// ExampleRunVerify is `portcullis audit verify`.
func ExampleRunVerify() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	fs, _ := audit.NewFileSink(dir)
	l, _ := audit.New([]audit.Sink{fs})
	for range 3 {
		l.Log(l.NewEvent())
	}
	_ = l.Close()
	var out strings.Builder
	code := audit.RunVerify([]string{dir}, &out, os.Stderr)
	fmt.Println(code, strings.Fields(out.String())[:6])
	// Output: 0 [OK: 3 records in 1 segments]
}
