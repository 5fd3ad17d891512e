package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/gateway/rest"
	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
	"github.com/portcullis/portcullis/policy"
)

// The signature stage runs after authentication and the decode stage and
// before authorization. A call must be signed when its method's policy
// says require_signature or its API key says require_signature; the
// signature must verify with a usable signing key of the live bundle, and
// that key must be bound to the caller (signing_keys[].principal). gRPC
// calls carry the metadata profile, verified here against the raw bytes of
// the first request message; REST requests carry RFC 9421 signatures,
// verified by the REST front before the body is decoded, which passes the
// verified keyid in the internal key policy.KeySignatureKey. Every refusal
// is Unauthenticated "invalid request signature"; the reason goes to the
// audit record.

// errSignature is the one error a refused call gets.
var errSignature = status.Error(codes.Unauthenticated, "invalid request signature")

// signing holds the verifier shared by both transports.
type signing struct {
	g   *Gateway
	v   *signature.Verifier
	now func() time.Time
}

// newSigning builds the verifier from the signatures block (defaults when
// absent). nonces is the shared cache for nonce_store: redis, else nil.
func (g *Gateway) newSigning(nonces signature.NonceCache) (*signing, error) {
	c := g.cfg.Signatures
	if c == nil {
		d := config.DefaultSignatures()
		c = &d
	}
	s := &signing{g: g, now: time.Now}
	opts := []signature.Option{
		signature.WithWindow(c.Window),
		signature.WithMemoryNonceCacheSize(int(c.MemoryNonces)),
		signature.WithNonceCache(nonces),
		signature.WithRequired(s.requiredGRPC),
		signature.WithRequiredHTTP(signedHTTP),
		signature.WithFirstMessageBytes(firstFrameBytes),
		signature.WithLogger(g.log),
		signature.WithMaxBodyBytes(int64(g.maxRequestBytes())),
		signature.WithHTTPErrorHandler(deferRefusal),
	}
	v, err := signature.New(signature.KeySourceFunc(s.key), opts...)
	if err != nil {
		return nil, err
	}
	s.v = v
	return s, nil
}

// signedHTTP: the REST front verifies every request that carries a
// signature, required or not (a bad signature is never ignored); whether
// one was required is decided in the chain, which knows the method and
// the caller.
func signedHTTP(r *http.Request) bool {
	return r.Header.Get("Signature-Input") != "" || r.Header.Get("Signature") != ""
}

// required reports whether the call must be signed.
func (s *signing) required(ctx context.Context) bool {
	if m, ok := resolve.FromContext(ctx); ok && m.RequireSignature {
		return true
	}
	p, ok := authn.FromContext(ctx)
	if !ok || p.Credential != policy.CredentialAPIKey {
		return false
	}
	k, ok := s.g.id.APIKey(p.CredentialID)
	return ok && k.RequireSignature
}

// requiredGRPC is the verifier's WithRequired for calls that came in over
// gRPC; REST calls were verified by the front and are checked by
// checkREST.
func (s *signing) requiredGRPC(ctx context.Context) bool {
	return !fromREST(ctx) && s.required(ctx)
}

// fromREST reports whether the call came through the gateway's own REST
// front (internal keys are stripped from every other call).
func fromREST(ctx context.Context) bool {
	return inproc.IsInternal(ctx)
}

// key is the verifier's KeySource: a usable signing key of the live
// bundle, bound to the caller when the caller is known (gRPC); the REST
// front verifies before authentication, so checkREST binds those.
func (s *signing) key(ctx context.Context, keyID string) (*signature.Key, bool) {
	k, ok := s.g.id.cur.Load().bundle.SigningKey(keyID)
	if !ok || !k.Usable(s.now()) {
		return nil, false
	}
	if p, known := authn.FromContext(ctx); known && p.ID != k.Principal {
		return nil, false
	}
	return &signature.Key{Algorithm: httpsig.Algorithm(k.Algorithm), Public: k.Public}, true
}

// checkREST enforces the requirement for a call from the REST front: the
// front must have verified a signature, by a key that is still usable and
// bound to the caller. A verified signature is bound even when none was
// required.
func (s *signing) checkREST(ctx context.Context) error {
	if why := policy.IncomingValue(ctx, policy.KeySignatureFailure); len(why) > 0 {
		return s.refuse(ctx, strings.TrimPrefix(why[0], "signature: "))
	}
	ids := policy.IncomingValue(ctx, policy.KeySignatureKey)
	if len(ids) == 0 {
		if s.required(ctx) {
			return s.refuse(ctx, "no signature")
		}
		return nil
	}
	k, ok := s.g.id.cur.Load().bundle.SigningKey(ids[0])
	p, known := authn.FromContext(ctx)
	switch {
	case len(ids) != 1:
		return s.refuse(ctx, "several signature keys")
	case !ok || !k.Usable(s.now()):
		return s.refuse(ctx, "key "+ids[0]+" is not usable")
	case !known || p.ID != k.Principal:
		return s.refuse(ctx, "key "+ids[0]+" is not bound to the caller")
	}
	return nil
}

func (s *signing) refuse(ctx context.Context, why string) error {
	if r := policy.RecordFrom(ctx); r != nil && r.AuthnFailure == "" {
		r.AuthnFailure = "signature: " + why
	}
	return errSignature
}

func (s *signing) unary() grpc.UnaryServerInterceptor {
	verify := s.v.UnaryServerInterceptor()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if fromREST(ctx) {
			if err := s.checkREST(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}
		return verify(ctx, req, info, h)
	}
}

func (s *signing) stream() grpc.StreamServerInterceptor {
	verify := s.v.StreamServerInterceptor()
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if fromREST(ss.Context()) {
			if err := s.checkREST(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}
		return verify(srv, ss, info, h)
	}
}

// firstFrameKey carries the raw bytes of the first request message, read
// by the decode stage for calls that must be signed.
type firstFrameKey struct{}

func firstFrameBytes(ctx context.Context) ([]byte, bool) {
	b, ok := ctx.Value(firstFrameKey{}).([]byte)
	return b, ok
}

// withSignatureStage inserts the signature stage after the decode stage
// of the identity stages (without identity only public methods pass, and
// they cannot require signatures). It runs after the rate-limit stage is
// built, whose Redis connection nonce_store: redis shares.
func (g *Gateway) withSignatureStage(stages []Stage) ([]Stage, error) {
	for i, st := range stages {
		if st.Name != "decode" {
			continue
		}
		var nonces signature.NonceCache
		if c := g.cfg.Signatures; c != nil && c.NonceStore == config.NonceStoreRedis {
			if g.redis == nil {
				return nil, errors.New("gateway: signatures.nonce_store: redis needs rate_limits.store: redis")
			}
			nonces = signature.NewRedisNonceCache(g.redis, signature.WithRedisPrefix(g.cfg.RateLimits.Redis.Prefix+"nonce:"),
				signature.WithRedisTimeout(g.cfg.RateLimits.Redis.Timeout))
		}
		s, err := g.newSigning(nonces)
		if err != nil {
			return nil, fmt.Errorf("gateway: signatures: %w", err)
		}
		g.sig = s
		sigStage := Stage{Name: "signature", Unary: s.unary(), Stream: s.stream()}
		return append(stages[:i+1:i+1], append([]Stage{sigStage}, stages[i+1:]...)...), nil
	}
	return stages, nil
}

// restMiddleware is the REST front's signature check. A request whose
// signature is refused is not answered here: it goes on into the chain
// marked with the reason (rest's annotate sets policy.KeySignatureFailure),
// where the signature stage refuses it after authentication, so that the
// refusal is audited, counted and answered like every other. Only a body
// over the limit is answered here (413).
func (s *signing) restMiddleware(next http.Handler) http.Handler {
	verify := s.v.HTTPMiddleware(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The verifier writes the reason of a refusal to the Record.
		ctx := policy.NewRecordContext(context.WithValue(r.Context(), restNextKey{}, next), &policy.Record{})
		verify.ServeHTTP(w, r.WithContext(ctx))
	})
}

type restNextKey struct{}

// deferRefusal is the verifier's HTTP error handler (see restMiddleware).
func deferRefusal(w http.ResponseWriter, r *http.Request, err error) {
	next, ok := r.Context().Value(restNextKey{}).(http.Handler)
	rec := policy.RecordFrom(r.Context())
	if !ok || rec == nil || status.Code(err) != codes.Unauthenticated {
		rest.WriteError(w, r, err) // 413, or a verifier used outside restMiddleware
		return
	}
	why := rec.AuthnFailure
	if why == "" {
		why = "signature: refused"
	}
	next.ServeHTTP(w, r.WithContext(rest.WithSignatureFailure(r.Context(), metadataSafe(why))))
}

// metadataSafe makes s a valid gRPC metadata value (printable ASCII) of at
// most 256 bytes: a reason may quote what the client sent.
func metadataSafe(s string) string {
	if len(s) > 256 {
		s = s[:253] + "..."
	}
	return policy.MetadataText(s)
}
