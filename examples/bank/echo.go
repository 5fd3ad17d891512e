package bank

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Metadata keys of the echo hooks.
const (
	// EchoHeaderKey is the request metadata key whose values are sent back
	// as response headers under the same key.
	EchoHeaderKey = "x-echo-header"
	// EchoTrailerKey is the request metadata key whose values are sent
	// back as response trailers under the same key.
	EchoTrailerKey = "x-echo-trailer"
)

// echoed returns the header and trailer metadata to echo for ctx's incoming
// metadata; either is nil when there is nothing to echo.
func echoed(ctx context.Context) (header, trailer metadata.MD) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(EchoHeaderKey); len(v) > 0 {
		header = metadata.MD{EchoHeaderKey: v}
	}
	if v := md.Get(EchoTrailerKey); len(v) > 0 {
		trailer = metadata.MD{EchoTrailerKey: v}
	}
	return header, trailer
}

// EchoUnaryInterceptor returns a unary server interceptor that sends every
// value of the request metadata key x-echo-header back as a response header
// and every value of x-echo-trailer back as a response trailer, also when
// the handler fails. Tests use it to check that a proxy passes metadata
// through unchanged. It is safe for concurrent use. [Register] already
// applies it to the bank service.
func EchoUnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		header, trailer := echoed(ctx)
		// SetHeader and SetTrailer fail only without a server transport
		// stream in ctx, which a gRPC server always provides.
		if header != nil {
			_ = grpc.SetHeader(ctx, header)
		}
		if trailer != nil {
			_ = grpc.SetTrailer(ctx, trailer)
		}
		return handler(ctx, req)
	}
}

// EchoStreamInterceptor is the streaming counterpart of
// [EchoUnaryInterceptor], for all three streaming kinds. The echoed headers
// go out with the first message or with an explicit SendHeader of the
// handler, whichever comes first.
func EchoStreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		header, trailer := echoed(ss.Context())
		if header != nil {
			// SetHeader fails only once headers are sent, which cannot
			// have happened before the handler runs.
			_ = ss.SetHeader(header)
		}
		if trailer != nil {
			ss.SetTrailer(trailer)
		}
		return handler(srv, ss)
	}
}
