package ratelimit

import (
	"context"
	"net/netip"

	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/clientip"
	"github.com/portcullis/portcullis/policy"
)

// Option configures the interceptors.
type Option func(*options)

type options struct {
	method        func(context.Context) (*policy.Method, bool)
	principal     func(context.Context) (*policy.Principal, bool)
	request       func(context.Context) (proto.Message, bool)
	limit         func(context.Context, *policy.Method) *policy.RateLimit
	trustInternal bool
	trusted       []netip.Prefix
	header        ProxyHeader
	clientIP      func(context.Context) netip.Addr
	ipv6Bits      int
	ipKeys        *ipKeyCache
	metrics       *Metrics
	onDecision    func(context.Context, Decision)
}

func evaluate(opts []Option) *options {
	o := &options{
		method:    func(context.Context) (*policy.Method, bool) { return nil, false },
		principal: func(context.Context) (*policy.Principal, bool) { return nil, false },
		request:   func(context.Context) (proto.Message, bool) { return nil, false },
		limit:     func(_ context.Context, m *policy.Method) *policy.RateLimit { return m.RateLimit },
		header:    HeaderXForwardedFor,
		ipv6Bits:  64,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.clientIP == nil {
		o.clientIP = clientip.New(clientip.WithTrustInternalMetadata(o.trustInternal),
			clientip.WithTrustedProxies(o.trusted), clientip.WithHeader(o.header)).Addr
	}
	o.ipv6Bits = min(max(o.ipv6Bits, 0), 128)
	o.ipKeys = newIPKeyCache()
	return o
}

// WithMethodFunc sets how the call's method policy is found (the gateway
// passes resolve.FromContext). Calls without a policy, or whose policy has
// no rate limit, pass unchanged. Without it every call passes, so always
// set it.
func WithMethodFunc(f func(context.Context) (*policy.Method, bool)) Option {
	return func(o *options) { o.method = f }
}

// WithPrincipalFunc sets how the authenticated principal is found (the
// gateway passes authn.FromContext). Default: none, so every call counts
// as anonymous, per client IP.
func WithPrincipalFunc(f func(context.Context) (*policy.Principal, bool)) Option {
	return func(o *options) { o.principal = f }
}

// WithRequestFunc sets how a streaming call's decoded first request message
// is found, for request-field keys (unary calls use their request).
// Default: none; a field-keyed stream then counts per client IP.
func WithRequestFunc(f func(context.Context) (proto.Message, bool)) Option {
	return func(o *options) { o.request = f }
}

// WithLimitFunc sets how the limit that applies to a call is chosen, e.g.
// a bundle's per-tenant override that tightens the compiled one; nil means
// no limit. f is called once per call and must be safe for concurrent use.
// Default: the method's own RateLimit.
func WithLimitFunc(f func(ctx context.Context, m *policy.Method) *policy.RateLimit) Option {
	return func(o *options) { o.limit = f }
}

// WithTrustInternalMetadata makes the interceptors take the client address
// of REST calls from the internal metadata key "x-portcullis-client-addr"
// (policy.KeyClientAddr), when "x-portcullis-transport" is "http". Only set
// it where those keys are stripped from client input, as the gateway does.
// Default false: the TCP peer is always used.
func WithTrustInternalMetadata(trust bool) Option {
	return func(o *options) { o.trustInternal = trust }
}

// WithTrustedProxies sets the proxies whose forwarding header is believed.
// When the client address (the TCP peer, or the REST client address) is in
// one of prefixes, the header chosen by WithProxyHeader is read right to
// left, trusted proxies are skipped, and the first other address is the
// client's. From any other peer the headers are ignored, so a client cannot
// choose its address. Default none.
func WithTrustedProxies(prefixes []netip.Prefix) Option {
	return func(o *options) { o.trusted = prefixes }
}

// ProxyHeader names the forwarding header that trusted proxies set.
type ProxyHeader = clientip.Header

const (
	// HeaderXForwardedFor is "X-Forwarded-For" (metadata key
	// "x-forwarded-for"), the default. grpc-gateway appends the REST
	// peer to it, so it is the right choice behind the gateway's REST front.
	HeaderXForwardedFor = clientip.XForwardedFor
	// HeaderForwarded is RFC 7239 "Forwarded" (metadata key "forwarded"),
	// its for= parameters.
	HeaderForwarded = clientip.Forwarded
)

// WithClientAddrFunc sets how the client address of client-IP keys is
// found, replacing WithTrustInternalMetadata, WithTrustedProxies and
// WithProxyHeader: the gateway passes the one clientip.Resolver that every
// stage uses, so that all of them see the same address.
func WithClientAddrFunc(f func(context.Context) netip.Addr) Option {
	return func(o *options) { o.clientIP = f }
}

// WithProxyHeader chooses which forwarding header trusted proxies set.
// Only that one is read: if either were accepted, a client could send the
// one its proxy does not touch and pick its own address. Default
// HeaderXForwardedFor.
func WithProxyHeader(h ProxyHeader) Option { return func(o *options) { o.header = h } }

// WithIPv6PrefixLen sets how many leading bits of an IPv6 client address
// form its client-IP key. Default 64, since one client usually holds a
// whole /64; 128 counts per address.
func WithIPv6PrefixLen(bits int) Option { return func(o *options) { o.ipv6Bits = bits } }

// WithMetrics makes the interceptors count their decisions in m. Default
// none.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// Decision is what the interceptors decided for one call with a limit.
type Decision struct {
	// Method is the full method name; Key the bounded key counted.
	Method, Key string
	// Shadow reports whether the limit is in shadow mode.
	Shadow bool
	// Result is the store's answer, including Degraded.
	Result Result
	// Err is the store's error, if it failed.
	Err error
}

// WithDecisionFunc sets a function called with every decision, before the
// call is let through or refused, e.g. to copy Result.Degraded into an
// audit record. It runs on the request path: it must not block, and must
// be safe for concurrent use. Default none.
func WithDecisionFunc(f func(context.Context, Decision)) Option {
	return func(o *options) { o.onDecision = f }
}
