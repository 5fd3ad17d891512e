package gateway

import (
	"context"
	"net/http"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// stripInternal removes internal metadata keys from calls that did not come
// from the gateway's own REST front, so a gRPC client cannot claim to be a
// REST call, another client address or a verified certificate.
// Every key with the internal prefix goes (policy.StripInternal);
// outgoingMetadata strips them again from what backends receive.
//
// A call over the network had its metadata stripped by limitMetadata before
// its stream existed, and a call from the REST front carries the metadata
// inproc.Direct built: neither is copied again (policy.IncomingStripped).
// That mark is trusted, so nothing between the tap and this stage may
// attach incoming metadata other than through policy.WithIncoming
// (TestNoBareNewIncomingContext).
func stripInternal(ctx context.Context) context.Context {
	if policy.IncomingStripped(ctx) {
		return ctx
	}
	// One copy of the metadata per call, which also lets every later stage
	// read keys with policy.IncomingValue (a map lookup) instead of
	// metadata.ValueFromIncomingContext (a walk of every key when the key
	// is absent, as internal keys nearly always are).
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		md = metadata.MD{}
	}
	if !inproc.IsInternal(ctx) {
		policy.StripInternal(md)
	}
	return policy.WithIncoming(ctx, md)
}

func stripUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(stripInternal(ctx), req)
}

func stripStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx := stripInternal(ss.Context())
	if ctx == ss.Context() { // stripped where the call entered: no wrapper
		return h(srv, ss)
	}
	return h(srv, withContext(ss, ctx))
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
// route's limit and the method policy's max_request_bytes, and refuses
// messages over the expansion ratio (compress.go). grpc-go's
// server-wide MaxRecvMsgSize (the largest route limit) already bounds the
// memory a message can take before this check runs.
func limitStream(routes map[string]*Route) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		m, _ := resolve.FromContext(ss.Context())
		// Wrapped even without a limit (a route built in code may have
		// none): the stream refuses a message over the expansion ratio.
		return h(srv, &sizeLimitedStream{ServerStream: ss, limit: messageLimit(routes, info.FullMethod, m)})
	}
}

// maxRequestBytes is the largest request message any route accepts (at
// least the default): the gRPC server's receive limit, the REST front's
// body limit and the REST signature check's. Each call is then held to its
// own route's and method's limit (messageLimit).
func (g *Gateway) maxRequestBytes() int {
	n := config.DefaultMaxMessageBytes
	for _, r := range g.routes {
		n = max(n, r.MaxRequestBytes)
	}
	return n
}

// messageLimit is the largest request message of a call: the smaller of
// its route's max_request_bytes and its method's, 0 for none. Stages that
// decode a message check it first, so that nothing over it is decoded.
func messageLimit(routes map[string]*Route, fullMethod string, m *policy.Method) int {
	limit := 0
	svc, _ := policy.SplitMethod(fullMethod)
	if rt, ok := routes[svc]; ok {
		limit = rt.MaxRequestBytes
	}
	if m != nil && m.MaxRequestBytes > 0 && (limit == 0 || int(m.MaxRequestBytes) < limit) {
		limit = int(m.MaxRequestBytes)
	}
	return limit
}

// overLimit reports whether a received message is over the call's limit.
func overLimit(f *proxy.Frame, limit int) bool { return limit > 0 && f.Len() > limit }

type sizeLimitedStream struct {
	grpc.ServerStream
	limit int
}

var errTooLarge = status.Error(codes.ResourceExhausted, "request message too large")

func (s *sizeLimitedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	f, ok := m.(*proxy.Frame)
	switch {
	case !ok:
		return nil
	case overExpanded(f):
		f.Reset()
		return errExpanded
	case overLimit(f, s.limit):
		f.Reset()
		return errTooLarge
	}
	return nil
}

// Built-in limits on request metadata, on top of the 64 KiB bound on a
// header list (grpc.MaxHeaderListSize, http.Server.MaxHeaderBytes), which
// alone would let one call carry thousands of tiny entries.
const (
	// maxMetadataEntries bounds the metadata entries of a gRPC call and the
	// header fields of a REST request; a key repeated counts once per value.
	maxMetadataEntries = 100
	// maxMetadataValueBytes bounds one metadata or header value (a -bin
	// value after base64 decoding), except authorization: bearer tokens
	// have their own, configurable bound (identity.max_token_bytes), and a
	// longer one is refused by authentication (Unauthenticated, audited).
	maxMetadataValueBytes = 8 << 10
)

// metadataLimitsMessage is the fixed refusal for requests over the limits.
const metadataLimitsMessage = "request metadata over the gateway's limits: at most 100 entries and 8 KiB per value"

var errMetadataLimits = status.Error(codes.InvalidArgument, metadataLimitsMessage)

// withinLimits reports whether h (gRPC metadata, lower-case keys, or
// http.Header, canonical keys) has at most maxMetadataEntries values and
// none but authorization longer than maxMetadataValueBytes. It allocates
// nothing.
func withinLimits(h map[string][]string) bool {
	n := 0
	for k, vs := range h {
		n += len(vs)
		if n > maxMetadataEntries {
			return false
		}
		if k == "authorization" || k == "Authorization" {
			continue
		}
		for _, v := range vs {
			if len(v) > maxMetadataValueBytes {
				return false
			}
		}
	}
	return true
}

// limitMetadata is the gRPC server's tap (grpc.InTapHandle): a call whose
// metadata is over the limits is refused with InvalidArgument before a
// stream, a goroutine or the chain exists for it, so it is not counted in
// portcullis_requests_total. Calls over an in-memory connection
// (inproc.IsInternal) pass: the REST front bounds its requests itself
// (limitHeaders) and adds its own keys. It runs in the connection's reader
// goroutine and does not block.
//
// It also removes a client's internal keys, so that the strip stage need
// not copy every call's metadata: grpc-go hands the tap the map it has just
// decoded for the stream, which the returned context carries to the stages
// (policy.WithStrippedIncoming) unchanged when it holds no internal key
// (nearly every call), or as a stripped copy when it does. grpc-go's own
// map is never written, and every reader after the tap, grpc-go's
// metadata functions included, sees the map stored here.
func limitMetadata(ctx context.Context, info *tap.Info) (context.Context, error) {
	internal := inproc.IsInternal(ctx)
	if !internal && !withinLimits(info.Header) {
		return ctx, errMetadataLimits
	}
	md := info.Header
	if md == nil {
		md = metadata.MD{}
	}
	if !internal && policy.HasInternal(md) {
		md = md.Copy()
		policy.StripInternal(md)
	}
	return policy.WithStrippedIncoming(ctx, md), nil
}

// limitHeaders refuses REST requests whose header fields are over the
// limits with 431 Request Header Fields Too Large and a google.rpc.Status
// body (code InvalidArgument). Safe for concurrent use.
func limitHeaders(next http.Handler) http.Handler {
	body := []byte(`{"code":3,"message":"` + metadataLimitsMessage + `","details":[]}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !withinLimits(r.Header) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
			_, _ = w.Write(body)
			return
		}
		next.ServeHTTP(w, r)
	})
}
