package gateway

import (
	"context"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// stripInternal removes internal metadata keys from calls that did not come
// from the gateway's own REST front, so a gRPC client cannot claim to be a
// REST call, another client address or a verified certificate.
//
// Only the keys some stage reads (policy.InternalKeys) are looked for here,
// key by key without copying the metadata; any other key with the internal
// prefix is harmless to the chain and removed from what backends receive
// (outgoingMetadata).
func stripInternal(ctx context.Context) context.Context {
	if inproc.IsInternal(ctx) {
		return ctx
	}
	present := false
	for _, k := range policy.InternalKeys {
		if len(metadata.ValueFromIncomingContext(ctx, k)) > 0 {
			present = true
			break
		}
	}
	if !present {
		return ctx
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok || !policy.StripInternal(md) {
		return ctx
	}
	return metadata.NewIncomingContext(ctx, md)
}

func stripUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(stripInternal(ctx), req)
}

func stripStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx := ss.Context()
	if nctx := stripInternal(ctx); nctx != ctx {
		ss = withContext(ss, nctx)
	}
	return h(srv, ss)
}

// withContext returns ss with its context replaced.
func withContext(ss grpc.ServerStream, ctx context.Context) grpc.ServerStream {
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = ctx
	return w
}

// errUnauthenticated is the fixed refusal of the deny-by-default gate.
var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or invalid credentials")

// denyProtected is the authentication slot of the chain until an identity
// stage is configured: only methods whose policy is public pass; every
// protected method is refused with Unauthenticated. Gateway-own services
// without a policy (health, reflection) pass.
func denyProtected(ctx context.Context) error {
	m, ok := resolve.FromContext(ctx)
	if !ok || m.Public {
		return nil
	}
	return errUnauthenticated
}

func denyUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := denyProtected(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func denyStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := denyProtected(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

// limitStream enforces the per-message request size: the smaller of the
// route's limit and the method policy's max_request_bytes. grpc-go's
// server-wide MaxRecvMsgSize (the largest route limit) already bounds the
// memory a message can take before this check runs.
func limitStream(routes map[string]*Route) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		limit := 0
		svc, _ := policy.SplitMethod(info.FullMethod)
		if rt, ok := routes[svc]; ok {
			limit = rt.MaxRequestBytes
		}
		if m, ok := resolve.FromContext(ss.Context()); ok && m.MaxRequestBytes > 0 && (limit == 0 || int(m.MaxRequestBytes) < limit) {
			limit = int(m.MaxRequestBytes)
		}
		if limit <= 0 {
			return h(srv, ss)
		}
		return h(srv, &sizeLimitedStream{ServerStream: ss, limit: limit})
	}
}

type sizeLimitedStream struct {
	grpc.ServerStream
	limit int
}

var errTooLarge = status.Error(codes.ResourceExhausted, "request message too large")

func (s *sizeLimitedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if f, ok := m.(*proxy.Frame); ok && f.Len() > s.limit {
		return errTooLarge
	}
	return nil
}
