package gateway

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/requestid"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// Route says which backend serves one proto service.
type Route struct {
	// Service is the full proto service name, "pkg.Service".
	Service string
	// Target is the backend connection (address and TLS identity).
	Target proxy.Target
	// Timeout is the deadline given to calls that arrive without one.
	Timeout time.Duration
	// MaxRequestBytes and MaxResponseBytes cap one message each way.
	MaxRequestBytes  int
	MaxResponseBytes int
	// ForwardCredentials keeps the client's "authorization" and
	// "x-api-key" in the backend call (config forward_credentials).
	ForwardCredentials bool

	opts []grpc.CallOption // per-call options, built once by callOptions
}

// router is the proxy's Director: it maps a full method name to its route's
// backend connection. It is immutable after construction.
type router struct {
	routes map[string]*Route
	pool   *proxy.Pool
}

var errNotRouted = status.Error(codes.Unimplemented, "unknown method")

// Connect implements proxy.Director.
func (r *router) Connect(ctx context.Context, fullMethod string) (context.Context, grpc.ClientConnInterface, error) {
	svc, _ := policy.SplitMethod(fullMethod)
	rt, ok := r.routes[svc]
	if !ok {
		return nil, nil, errNotRouted
	}
	cc, err := r.pool.Conn(rt.Target)
	if err != nil {
		return nil, nil, err
	}
	if rt.opts == nil {
		return ctx, cc, nil
	}
	return ctx, limitedConn{ClientConnInterface: cc, opts: rt.opts}, nil
}

func (rt *Route) callOptions() []grpc.CallOption {
	var opts []grpc.CallOption
	if rt.MaxResponseBytes > 0 {
		opts = append(opts, grpc.MaxCallRecvMsgSize(rt.MaxResponseBytes))
	}
	if rt.MaxRequestBytes > 0 {
		opts = append(opts, grpc.MaxCallSendMsgSize(rt.MaxRequestBytes))
	}
	return opts
}

// limitedConn adds a route's per-call options to every backend stream.
type limitedConn struct {
	grpc.ClientConnInterface
	opts []grpc.CallOption
}

func (c limitedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.ClientConnInterface.NewStream(ctx, desc, method, append(opts, c.opts...)...)
}

// outgoingMetadata edits each backend call's metadata (a fresh copy made by
// the proxy): internal keys are for the chain only and never reach a
// backend, and the request id and trace context are the ones the chain
// resolved (the request-id stage does not rewrite incoming metadata, which
// would cost a copy per call).
func (g *Gateway) outgoingMetadata(ctx context.Context, md metadata.MD) {
	policy.StripInternal(md)
	g.stripCredentials(ctx, md)
	if g.signer != nil {
		info, _ := requestid.FromContext(ctx)
		// Signed after stripping, so a client can never supply one. A
		// failure leaves the call without an assertion, which the backend
		// refuses (fail closed).
		method, _ := grpc.Method(ctx)
		if err := g.signer.SetMetadata(md, assertion.For(policy.RecordFrom(ctx), method, info.RequestID)); err != nil {
			g.log.Error("signing the identity assertion failed", "method", method, "err", err)
		}
	}
	if id, tp, ts, ok := requestid.Values(ctx); ok { // shared slices: no allocation
		md[requestid.RequestIDKey] = id
		setOrDelete(md, requestid.TraceParentKey, tp)
		setOrDelete(md, requestid.TraceStateKey, ts)
	}
}

// responseHeader puts the call's request id into the response header the
// proxy forwards from the backend, replacing any the backend sent (it got
// the same id), so the client gets one value; the request id stage sets it
// itself on calls that end without a header (WithHeaderFromHandler).
func responseHeader(ctx context.Context, md metadata.MD) {
	if id, ok := requestid.ResponseHeaderValue(ctx); ok { // shared slice: no allocation
		md[requestid.RequestIDKey] = id
	}
}

// setOrDelete sets md[key] to v, or removes key when v is nil.
func setOrDelete(md metadata.MD, key string, v []string) {
	if v != nil {
		md[key] = v
	} else {
		delete(md, key)
	}
}

// stripCredentials removes the client's credentials from a backend call's
// metadata unless its route forwards them. The gateway has verified them;
// a backend that held them could replay them against the gateway. The two
// probes come first, so a call without credentials costs no route lookup.
func (g *Gateway) stripCredentials(ctx context.Context, md metadata.MD) {
	_, bearer := md[authn.AuthorizationKey]
	_, key := md[authn.APIKeyKey]
	if !bearer && !key {
		return
	}
	method, _ := grpc.Method(ctx)
	svc, _ := policy.SplitMethod(method)
	if rt, ok := g.routes[svc]; ok && rt.ForwardCredentials {
		return
	}
	delete(md, authn.AuthorizationKey)
	delete(md, authn.APIKeyKey)
}

// timeout is the route's deadline for calls whose client sent none (the
// proxy's WithDefaultTimeout).
func (r *router) timeout(fullMethod string) time.Duration {
	svc, _ := policy.SplitMethod(fullMethod)
	if rt, ok := r.routes[svc]; ok {
		return rt.Timeout
	}
	return 0
}

// singleRequest reports whether the call's method, as resolution found it
// in the policy registry (built from the service descriptors), takes one
// request message: the proxy then forwards it without a request goroutine.
func singleRequest(ctx context.Context, _ string) bool {
	m, ok := resolve.FromContext(ctx)
	return ok && !m.ClientStreaming
}
