package authz

import (
	"context"
	"net/netip"
	"time"

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
	now           func() time.Time
	trustInternal bool
	clientAddr    func(context.Context) netip.Addr
	rates         *RateMeter
	shadow        func() *Engine
	onDisagree    func(m *policy.Method, live, shadow Verdict)
}

func evaluate(opts []Option) *options {
	o := &options{
		method:    func(context.Context) (*policy.Method, bool) { return nil, false },
		principal: func(context.Context) (*policy.Principal, bool) { return nil, false },
		now:       time.Now,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.clientAddr == nil {
		o.clientAddr = clientip.New(clientip.WithTrustInternalMetadata(o.trustInternal)).Addr
	}
	if o.rates == nil {
		o.rates = NewRateMeter(0, 0)
	}
	return o
}

// WithMethodFunc sets how the call's method policy is found (the gateway
// passes resolve.FromContext). Without it every call passes: there is no
// policy to enforce, so always set it.
func WithMethodFunc(f func(context.Context) (*policy.Method, bool)) Option {
	return func(o *options) { o.method = f }
}

// WithPrincipalFunc sets how the authenticated principal is found (the
// gateway passes authn.FromContext). Default: none (every protected call
// is Unauthenticated).
func WithPrincipalFunc(f func(context.Context) (*policy.Principal, bool)) Option {
	return func(o *options) { o.principal = f }
}

// WithRequestFunc sets how a streaming call's decoded first request
// message is found, for conditions and the resource field. Default: none.
func WithRequestFunc(f func(context.Context) (proto.Message, bool)) Option {
	return func(o *options) { o.request = f }
}

// WithClock sets the time source for `context.time`. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTrustInternalMetadata makes the interceptor read the REST front's
// internal metadata keys (transport, client address). Only set it when
// those keys are stripped from client input, as the gateway does. Default
// false.
func WithTrustInternalMetadata(trust bool) Option {
	return func(o *options) { o.trustInternal = trust }
}

// WithClientAddrFunc sets how `context.client_ip` is found. The gateway
// passes the clientip.Resolver every stage shares, so that behind a trusted
// proxy conditions see the client, not the proxy. Default: the TCP peer, or
// with WithTrustInternalMetadata the REST front's client address. A nil f
// keeps the default.
func WithClientAddrFunc(f func(context.Context) netip.Addr) Option {
	return func(o *options) {
		if f != nil {
			o.clientAddr = f
		}
	}
}

// WithRateMeter sets the meter behind `context.request_rate`, counting the
// calls of each authenticated principal while the engine's conditions read
// it. Default: a meter of its own with DefaultRateWindow and
// DefaultRateKeys, one per interceptor, so pass one meter to both
// UnaryServerInterceptor and StreamServerInterceptor of a server to count
// every call of a principal once (the gateway does). A call whose
// policy.Record is DryRun (an explained call) reads the rate without being
// counted. A nil m keeps the default.
func WithRateMeter(m *RateMeter) Option {
	return func(o *options) {
		if m != nil {
			o.rates = m
		}
	}
}

// WithShadow evaluates every call with a candidate engine as well (nil
// from f: no candidate). The live decision is enforced; the candidate's is
// recorded in the call's policy.Record (Shadow) and, when the two disagree,
// reported to onDisagree (may be nil). Default: no shadow.
func WithShadow(f func() *Engine, onDisagree func(m *policy.Method, live, shadow Verdict)) Option {
	return func(o *options) { o.shadow, o.onDisagree = f, onDisagree }
}
