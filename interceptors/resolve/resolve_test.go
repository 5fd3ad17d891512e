package resolve_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	transfer = "/bank.v1.Bank/Transfer"
	watch    = "/bank.v1.Bank/Watch"
	health   = "/grpc.health.v1.Health/Check"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newRegistry(t testing.TB, methods ...string) *policy.Registry {
	t.Helper()
	tbl := &policy.Table{
		File:        "test.proto",
		Permissions: []policy.Permission{{Name: "bank.transfers.create", File: "test.proto"}},
	}
	for _, m := range methods {
		tbl.Methods = append(tbl.Methods, policy.Method{
			FullMethod:  m,
			Permissions: []string{"bank.transfers.create"},
			Credentials: policy.AnyCredential,
		})
	}
	r, err := policy.NewRegistry(tbl)
	if err != nil {
		t.Fatalf("policy.NewRegistry() = %v, want nil", err)
	}
	return r
}

func allowHealth(m string) bool { return m == health }

// outcome of one call through an interceptor.
type outcome struct {
	called bool
	m      *policy.Method
	hasM   bool
	err    error
}

// interceptor calls one of the two interceptors as a plain function.
type interceptor struct {
	name string
	call func(ctx context.Context, r resolve.Resolver, opts []resolve.Option, method string) outcome
}

var interceptors = []interceptor{
	{name: "UnaryServerInterceptor", call: func(ctx context.Context, r resolve.Resolver, opts []resolve.Option, method string) outcome {
		var o outcome
		resp, err := resolve.UnaryServerInterceptor(r, opts...)(ctx, "req", &grpc.UnaryServerInfo{FullMethod: method},
			func(ctx context.Context, req any) (any, error) {
				o.called = true
				o.m, o.hasM = resolve.FromContext(ctx)
				return "resp", nil
			})
		if err == nil && resp != "resp" {
			err = fmt.Errorf("resp = %v, want resp", resp)
		}
		o.err = err
		return o
	}},
	{name: "StreamServerInterceptor", call: func(ctx context.Context, r resolve.Resolver, opts []resolve.Option, method string) outcome {
		var o outcome
		o.err = resolve.StreamServerInterceptor(r, opts...)(nil, grpctest.NewStream(ctx), &grpc.StreamServerInfo{FullMethod: method},
			func(_ any, ss grpc.ServerStream) error {
				o.called = true
				o.m, o.hasM = resolve.FromContext(ss.Context())
				return nil
			})
		return o
	}},
}

func TestInterceptors(t *testing.T) {
	reg := newRegistry(t, transfer, watch)
	want, _ := reg.Lookup(transfer)
	nilPolicy := resolve.ResolverFunc(func(string) (*policy.Method, bool) { return nil, true })
	for _, tc := range []struct {
		name     string
		r        resolve.Resolver
		opts     []resolve.Option
		method   string
		wantCode codes.Code
		wantM    *policy.Method
	}{
		{name: "known", r: reg, method: transfer, wantM: want},
		{name: "known and allowed", r: reg, opts: []resolve.Option{resolve.WithAllow(func(string) bool { return true })}, method: transfer, wantM: want},
		{name: "unknown", r: reg, method: "/bank.v1.Bank/Steal", wantCode: codes.Unimplemented},
		{name: "unknown service", r: reg, method: "/evil.Svc/X", wantCode: codes.Unimplemented},
		{name: "wrong case", r: reg, method: "/bank.v1.bank/transfer", wantCode: codes.Unimplemented},
		{name: "empty", r: reg, method: "", wantCode: codes.Unimplemented},
		{name: "malformed", r: reg, method: "bank.v1.Bank.Transfer", wantCode: codes.Unimplemented},
		{name: "health without allow", r: reg, method: health, wantCode: codes.Unimplemented},
		{name: "health allowed", r: reg, opts: []resolve.Option{resolve.WithAllow(allowHealth)}, method: health},
		{name: "allow does not widen", r: reg, opts: []resolve.Option{resolve.WithAllow(allowHealth)}, method: "/evil.Svc/X", wantCode: codes.Unimplemented},
		{name: "nil allow", r: reg, opts: []resolve.Option{resolve.WithAllow(nil)}, method: health, wantCode: codes.Unimplemented},
		{name: "nil policy from resolver", r: nilPolicy, method: transfer, wantCode: codes.Unimplemented},
		{name: "ResolverFunc", r: resolve.ResolverFunc(reg.Lookup), method: transfer, wantM: want},
	} {
		for _, ic := range interceptors {
			t.Run(tc.name+"/"+ic.name, func(t *testing.T) {
				got := ic.call(testContext(t), tc.r, tc.opts, tc.method)
				if status.Code(got.err) != tc.wantCode {
					t.Fatalf("%s(%q) = %v, want %v", ic.name, tc.method, got.err, tc.wantCode)
				}
				if tc.wantCode != codes.OK {
					if msg := status.Convert(got.err).Message(); msg != "unknown method" {
						t.Errorf("%s(%q) message = %q, want %q", ic.name, tc.method, msg, "unknown method")
					}
					if got.called {
						t.Errorf("%s(%q) called the handler, want not", ic.name, tc.method)
					}
					return
				}
				if !got.called {
					t.Fatalf("%s(%q) did not call the handler", ic.name, tc.method)
				}
				if got.m != tc.wantM || got.hasM != (tc.wantM != nil) {
					t.Errorf("FromContext(%s(%q)) = %p, %v, want %p, %v", ic.name, tc.method, got.m, got.hasM, tc.wantM, tc.wantM != nil)
				}
			})
		}
	}
}

func TestNilResolver(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{name: "UnaryServerInterceptor", f: func() { resolve.UnaryServerInterceptor(nil) }},
		{name: "StreamServerInterceptor", f: func() { resolve.StreamServerInterceptor(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != "resolve: nil Resolver" {
					t.Errorf("%s(nil) panic = %v, want %q", tc.name, p, "resolve: nil Resolver")
				}
			}()
			tc.f()
		})
	}
}

type otherKey struct{}

// TestContext checks that the stored policy leaves the rest of the context
// (values, deadline, cancellation) intact.
func TestContext(t *testing.T) {
	m := &policy.Method{FullMethod: transfer}
	parent, cancel := context.WithCancel(context.WithValue(testContext(t), otherKey{}, "v"))
	ctx := resolve.NewContext(parent, m)
	if got, ok := resolve.FromContext(ctx); got != m || !ok {
		t.Errorf("FromContext(NewContext(m)) = %p, %v, want %p, true", got, ok, m)
	}
	if got := ctx.Value(otherKey{}); got != "v" {
		t.Errorf("Value(otherKey) = %v, want v", got)
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Errorf("Deadline() ok = false, want the parent's deadline")
	}
	child, childCancel := context.WithCancel(ctx)
	defer childCancel()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child of NewContext not canceled with its parent")
	}
	if got, ok := resolve.FromContext(testContext(t)); got != nil || ok {
		t.Errorf("FromContext(empty) = %p, %v, want nil, false", got, ok)
	}
	if got, ok := resolve.FromContext(resolve.NewContext(testContext(t), nil)); got != nil || ok {
		t.Errorf("FromContext(NewContext(nil)) = %p, %v, want nil, false", got, ok)
	}
}

// TestServer runs both interceptors in a real grpc.Server over bufconn
// across every RPC kind and on the unknown-service (proxy) path.
func TestServer(t *testing.T) {
	calls := grpctest.Calls()
	// The registry knows unary and server-stream; client-stream is served
	// by the gateway itself (allowed); bidi has no policy at all.
	reg := newRegistry(t, calls[0].Method, calls[1].Method)
	allowed := calls[2].Method
	type seen struct {
		m  *policy.Method
		ok bool
	}
	var (
		mu      sync.Mutex
		handled = map[string]seen{}
		proxied int
	)
	srv := grpctest.Start(t, func(ctx context.Context) error {
		name, _ := grpc.Method(ctx)
		m, ok := resolve.FromContext(ctx)
		mu.Lock()
		defer mu.Unlock()
		handled[name] = seen{m, ok}
		return nil
	},
		grpc.ChainUnaryInterceptor(resolve.UnaryServerInterceptor(reg, resolve.WithAllow(func(m string) bool { return m == allowed }))),
		grpc.ChainStreamInterceptor(resolve.StreamServerInterceptor(reg, resolve.WithAllow(func(m string) bool { return m == allowed }))),
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			mu.Lock()
			defer mu.Unlock()
			proxied++
			return nil
		}),
	)
	for i, c := range calls {
		t.Run(c.Name, func(t *testing.T) {
			err := c.Invoke(testContext(t), srv.Client)
			mu.Lock()
			got, called := handled[c.Method]
			mu.Unlock()
			switch i {
			case 0, 1: // known
				want, _ := reg.Lookup(c.Method)
				if err != nil || !called || got.m != want || !got.ok {
					t.Errorf("%s() = %v, policy %p, %v, want nil, %p, true", c.Method, err, got.m, got.ok, want)
				}
			case 2: // allowed
				if err != nil || !called || got.ok {
					t.Errorf("%s() = %v, policy %v, want nil, no policy", c.Method, err, got.ok)
				}
			case 3: // registered in the server, but no policy
				if status.Code(err) != codes.Unimplemented || status.Convert(err).Message() != "unknown method" || called {
					t.Errorf("%s() = %v (handler called %v), want %v %q and no handler", c.Method, err, called, codes.Unimplemented, "unknown method")
				}
			}
		})
	}
	t.Run("proxy path", func(t *testing.T) {
		err := srv.Conn.Invoke(testContext(t), "/evil.Svc/Anything", &testpb.Empty{}, &testpb.Empty{})
		if status.Code(err) != codes.Unimplemented || status.Convert(err).Message() != "unknown method" {
			t.Errorf("Invoke(/evil.Svc/Anything) = %v, want %v %q", err, codes.Unimplemented, "unknown method")
		}
		mu.Lock()
		defer mu.Unlock()
		if proxied != 0 {
			t.Errorf("unknown service handler called %d times, want 0", proxied)
		}
	})
}

// benchStream is a grpc.ServerStream that only has a context.
type benchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *benchStream) Context() context.Context { return s.ctx }

func benchRegistry(b *testing.B) *policy.Registry {
	var methods []string
	for i := range 200 {
		methods = append(methods, fmt.Sprintf("/bank.v1.Bank/Method%d", i))
	}
	return newRegistry(b, append(methods, transfer)...)
}

func BenchmarkStreamServerInterceptor(b *testing.B) {
	reg := benchRegistry(b)
	intercept := resolve.StreamServerInterceptor(reg, resolve.WithAllow(allowHealth))
	ss := &benchStream{ctx: context.Background()}
	handler := func(_ any, ss grpc.ServerStream) error {
		if _, ok := resolve.FromContext(ss.Context()); !ok {
			return errNoPolicy
		}
		return nil
	}
	for _, bc := range []struct{ name, method string }{
		{"known", transfer},
		{"allowed", health},
		{"unknown", "/evil.Svc/Random"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			info := &grpc.StreamServerInfo{FullMethod: bc.method}
			b.ReportAllocs()
			for b.Loop() {
				_ = intercept(nil, ss, info, handler)
			}
		})
	}
}

func BenchmarkUnaryServerInterceptor(b *testing.B) {
	reg := benchRegistry(b)
	intercept := resolve.UnaryServerInterceptor(reg)
	ctx := context.Background()
	info := &grpc.UnaryServerInfo{FullMethod: transfer}
	handler := func(ctx context.Context, _ any) (any, error) {
		if _, ok := resolve.FromContext(ctx); !ok {
			return nil, errNoPolicy
		}
		return nil, nil
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = intercept(ctx, nil, info, handler)
	}
}

var errNoPolicy = status.Error(codes.Internal, "no policy")
