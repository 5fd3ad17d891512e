package resolve

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/policy"
)

// Resolver finds the compiled policy of a full method name
// ("/pkg.Service/Method"). *policy.Registry implements it. Lookup is called
// on every call, concurrently, and must be safe for that.
type Resolver interface {
	Lookup(fullMethod string) (*policy.Method, bool)
}

// ResolverFunc adapts a function to a Resolver.
type ResolverFunc func(fullMethod string) (*policy.Method, bool)

// Lookup calls f(fullMethod).
func (f ResolverFunc) Lookup(fullMethod string) (*policy.Method, bool) { return f(fullMethod) }

// errUnknownMethod is the only error the interceptors return. It is built
// once; status errors are immutable, so sharing it is safe.
var errUnknownMethod = status.Error(codes.Unimplemented, "unknown method")

// UnaryServerInterceptor returns a unary server interceptor that resolves
// the call's method with r. A known method's policy is stored in the context
// (FromContext) and the handler is called; a method allowed by WithAllow
// reaches the handler without one; any other method gets codes.Unimplemented
// with the message "unknown method" and the handler is not called. It reads
// no metadata. It panics if r is nil. It is safe for concurrent use.
func UnaryServerInterceptor(r Resolver, opts ...Option) grpc.UnaryServerInterceptor {
	o := evaluateOptions(opts)
	if r == nil {
		panic("resolve: nil Resolver")
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m, ok := r.Lookup(info.FullMethod)
		switch {
		case ok && m != nil:
			return handler(&methodCtx{Context: ctx, m: m}, req)
		case o.allowed(info.FullMethod):
			return handler(ctx, req)
		default:
			return nil, errUnknownMethod
		}
	}
}

// StreamServerInterceptor returns a stream server interceptor that resolves
// the stream's method with r. A known method's policy is stored in the
// stream's context (FromContext) and the handler is called; a method allowed
// by WithAllow reaches the handler without one; any other method ends with
// codes.Unimplemented and the message "unknown method" before the handler
// runs, so nothing is read from or forwarded to a backend. It reads no
// metadata. It panics if r is nil. It is safe for concurrent use.
func StreamServerInterceptor(r Resolver, opts ...Option) grpc.StreamServerInterceptor {
	o := evaluateOptions(opts)
	if r == nil {
		panic("resolve: nil Resolver")
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		m, ok := r.Lookup(info.FullMethod)
		switch {
		case ok && m != nil:
			s := &stream{ServerStream: ss}
			s.ctx = methodCtx{Context: ss.Context(), m: m}
			return handler(srv, s)
		case o.allowed(info.FullMethod):
			return handler(srv, ss)
		default:
			return errUnknownMethod
		}
	}
}

func (o *options) allowed(fullMethod string) bool {
	return o.allow != nil && o.allow(fullMethod)
}
