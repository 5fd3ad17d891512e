package recovery

import (
	"context"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errInternal is the only error a recovered panic produces on the wire. It
// is built once; status errors are immutable, so sharing it is safe.
var errInternal = status.Error(codes.Internal, "internal error")

// UnaryServerInterceptor returns a unary server interceptor that recovers a
// panic in the handler (or in any interceptor after it), logs it, calls the
// counter, and returns codes.Internal with the fixed message "internal
// error" instead. Calls that do not panic are passed through untouched. It
// sets no metadata. The interceptor is safe for concurrent use.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	o := evaluateOptions(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				o.recovered(ctx, info.FullMethod, p)
				resp, err = nil, errInternal
			}
		}()
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns a stream server interceptor that recovers
// a panic in the handler (or in any interceptor after it), logs it, calls
// the counter, and ends the stream with codes.Internal and the fixed message
// "internal error". Streams that do not panic are passed through untouched.
// It sets no metadata. The interceptor is safe for concurrent use.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	o := evaluateOptions(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				o.recovered(ss.Context(), info.FullMethod, p)
				err = errInternal
			}
		}()
		return handler(srv, ss)
	}
}

// recovered logs and counts one panic. It runs in the deferred function, so
// debug.Stack still shows the frames that panicked.
func (o *options) recovered(ctx context.Context, fullMethod string, p any) {
	l := o.logger
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(ctx, slog.LevelError, "recovered panic in gRPC handler",
		slog.String("grpc.method", fullMethod),
		slog.Any("panic", p),
		slog.String("stack", string(debug.Stack())),
	)
	if o.counter != nil {
		o.counter(fullMethod)
	}
}
