package resolve

import (
	"context"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/policy"
)

type ctxKey struct{}

// methodCtx is context.WithValue(parent, ctxKey{}, m) as its own type, so
// that the stream path can embed it in the stream wrapper and make one
// allocation per call instead of two (context node and wrapper). The
// *policy.Method is stored as a pointer, so no boxing allocation either.
type methodCtx struct {
	context.Context
	m *policy.Method
}

func (c *methodCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c.m
	}
	return c.Context.Value(key)
}

// stream overrides Context of the wrapped stream with its own methodCtx.
type stream struct {
	grpc.ServerStream
	ctx methodCtx
}

func (s *stream) Context() context.Context { return &s.ctx }

// FromContext returns the policy that the interceptors stored in ctx, and
// whether there is one. There is none for methods let through by WithAllow.
// The *policy.Method is shared and must not be modified. It is safe for
// concurrent use.
func FromContext(ctx context.Context) (*policy.Method, bool) {
	m, ok := ctx.Value(ctxKey{}).(*policy.Method)
	return m, ok && m != nil
}

// NewContext returns ctx carrying m, as the interceptors store it; for tests
// of later interceptors and for handlers outside the chain. It is safe for
// concurrent use.
func NewContext(ctx context.Context, m *policy.Method) context.Context {
	return &methodCtx{Context: ctx, m: m}
}
