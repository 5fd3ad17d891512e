package authz

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

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

// WithShadow evaluates every call with a candidate engine as well (nil
// from f: no candidate). The live decision is enforced; the candidate's is
// recorded in the call's policy.Record (Shadow) and, when the two disagree,
// reported to onDisagree (may be nil). Default: no shadow.
func WithShadow(f func() *Engine, onDisagree func(m *policy.Method, live, shadow Verdict)) Option {
	return func(o *options) { o.shadow, o.onDisagree = f, onDisagree }
}
