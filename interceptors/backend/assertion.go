package backend

import (
	"context"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/policy"
)

// MetadataKey is the request metadata key that carries the gateway's
// assertion, a compact JWS. It starts with policy.InternalPrefix: the
// gateway strips every such key from client input and adds this one on the
// forwarded call only, so a client can neither send nor read one through
// the gateway.
const MetadataKey = "x-portcullis-assertion"

// TokenType is the JWS "typ" header of every assertion. The Verifier
// refuses any other typ, so that no other JWT signed by the same key (an
// access token, say) can pass for an assertion.
const TokenType = "portcullis-assertion+jwt"

// Assertion is the claim set of a gateway assertion: the gateway's
// statement that it authenticated and authorized one call and forwarded
// it. The JSON names are the claim names on the wire. A verified Assertion
// is immutable and may be shared; do not modify it.
type Assertion struct {
	// Issuer is the gateway's id ("iss").
	Issuer string `json:"iss"`
	// Subject is the principal's id ("sub"): the token subject, the API
	// key's owner, the certificate's SPIFFE ID, or "anonymous" on public
	// methods.
	Subject string `json:"sub"`
	// Audience is the service the call was forwarded to ("aud"), e.g.
	// "examples.bank.v1.BankService".
	Audience string `json:"aud"`
	// Kind is the principal kind: "user", "service" or "anonymous".
	Kind string `json:"kind"`
	// Roles are the roles the principal holds for this call (token or key
	// roles plus the bundle's bindings).
	Roles []string `json:"roles,omitempty"`
	// Credential is how the principal authenticated at the gateway: "jwt",
	// "api_key", "mtls", or "" for anonymous calls.
	Credential string `json:"credential,omitempty"`
	// Method is the full gRPC method the gateway forwarded,
	// "/package.Service/Method".
	Method string `json:"method"`
	// RequestID is the gateway's x-request-id of the call, for correlating
	// the backend's logs with the gateway's audit record.
	RequestID string `json:"request_id,omitempty"`
	// IssuedAt and ExpiresAt are Unix times in seconds ("iat", "exp").
	IssuedAt  int64 `json:"iat"`
	ExpiresAt int64 `json:"exp"`
	// ID is the assertion's unique id ("jti"), the key of replay
	// protection.
	ID string `json:"jti"`
}

// ServiceName returns the service part of a full method name,
// "examples.bank.v1.BankService" for
// "/examples.bank.v1.BankService/Transfer", or "" when fullMethod is not
// of that form (policy.SplitMethod, as the gateway's router splits it). It
// is the audience the gateway signs for and the one a Verifier expects by
// default.
func ServiceName(fullMethod string) string {
	svc, _ := policy.SplitMethod(fullMethod)
	return svc
}

type ctxKey struct{}

// assertionCtx is context.WithValue(parent, ctxKey{}, a) as its own type,
// so that the stream path embeds it in the stream wrapper: one allocation
// per call instead of two.
type assertionCtx struct {
	context.Context
	a *Assertion
}

func (c *assertionCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c.a
	}
	return c.Context.Value(key)
}

// stream overrides Context of the wrapped stream with its assertionCtx.
type stream struct {
	grpc.ServerStream
	ctx assertionCtx
}

func (s *stream) Context() context.Context { return &s.ctx }

// FromContext returns the verified assertion that the interceptors stored
// in the handler's context, and whether there is one. Every call the
// interceptors let through has one, except calls to exempt methods (see
// WithExemptMethods). It is safe for concurrent use.
func FromContext(ctx context.Context) (*Assertion, bool) {
	a, ok := ctx.Value(ctxKey{}).(*Assertion)
	return a, ok && a != nil
}

// NewContext returns ctx carrying a as the interceptors store it, for
// tests of handlers that read FromContext. It is safe for concurrent use.
func NewContext(ctx context.Context, a *Assertion) context.Context {
	return &assertionCtx{Context: ctx, a: a}
}
