package authn

import (
	"context"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/policy"
)

type ctxKey struct{}

// principalCtx is context.WithValue(parent, ctxKey{}, p) as its own type,
// so that the stream path embeds it in the stream wrapper: one allocation
// per call instead of two.
type principalCtx struct {
	context.Context
	p *policy.Principal
}

func (c *principalCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c.p
	}
	return c.Context.Value(key)
}

// stream overrides Context of the wrapped stream with its principalCtx.
type stream struct {
	grpc.ServerStream
	ctx principalCtx
}

func (s *stream) Context() context.Context { return &s.ctx }

// FromContext returns the principal that the interceptors stored in ctx,
// and whether there is one. Every call with a method policy that the
// interceptors let through has one (Kind policy.KindAnonymous on public
// methods called without valid credentials); calls without a policy have
// none. The principal may be shared between calls and must not be
// modified. It is safe for concurrent use.
func FromContext(ctx context.Context) (*policy.Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*policy.Principal)
	return p, ok && p != nil
}

// NewContext returns ctx carrying p, as the interceptors store it; for
// tests of later interceptors and for handlers outside the chain. It is
// safe for concurrent use.
func NewContext(ctx context.Context, p *policy.Principal) context.Context {
	return &principalCtx{Context: ctx, p: p}
}
