// Package backendtest is an in-memory stand-in for the gateway's assertion
// signer, for tests of backends that use the backend interceptors: it
// signs assertions, publishes its JWK Set and rotates keys, without a
// gateway, a network or files other than the ones it is asked to write.
//
// Nothing here is fit for production: keys live in memory and errors
// panic. The gateway itself signs with gateway/assertion.
package backendtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/interceptors/backend"
)

// Gateway signs assertions with one current key and publishes any number
// of older ones until RemoveOld: its keys, rotation and JWK Set are an
// authntest.Issuer's. It is safe for concurrent use.
type Gateway struct {
	keys *authntest.Issuer
}

// New returns a gateway whose assertions carry iss and are signed with
// alg, "EdDSA" or "ES256". It panics on any other alg.
func New(iss, alg string) *Gateway {
	if alg != "EdDSA" && alg != "ES256" {
		panic(fmt.Sprintf("backendtest: unsupported alg %q", alg))
	}
	return &Gateway{keys: authntest.NewIssuer(iss, alg)}
}

// Issuer returns the iss of the gateway's assertions.
func (g *Gateway) Issuer() string { return g.keys.Issuer() }

// KeyID returns the kid of the current key (its RFC 7638 thumbprint).
func (g *Gateway) KeyID() string { return g.keys.KeyID() }

// PrivateKey returns the current private key, for hostile tests.
func (g *Gateway) PrivateKey() crypto.Signer { return g.keys.PrivateKey() }

// Rotate makes a new key the signing key. The old keys stay in the JWK
// Set, so assertions they signed keep verifying until RemoveOld.
func (g *Gateway) Rotate() { g.keys.Rotate() }

// RemoveOld drops every key but the current one from the JWK Set.
func (g *Gateway) RemoveOld() { g.keys.RemoveOld() }

// JWKS returns the public JWK Set of every key.
func (g *Gateway) JWKS() []byte { return g.keys.JWKS() }

// WriteJWKS writes JWKS() to path atomically (a temporary file in the same
// directory, then a rename).
func (g *Gateway) WriteJWKS(path string) error { return g.keys.WriteJWKS(path) }

// Claims returns the claims the gateway would sign for a call of
// fullMethod by sub, valid from now for ttl: iss, sub, kind "user", roles,
// credential "jwt", method, aud (the method's service), request_id, iat,
// exp and a random jti. Change entries before passing it to Sign.
func (g *Gateway) Claims(fullMethod, sub string, ttl time.Duration) map[string]any {
	now := time.Now()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	return map[string]any{
		"iss":        g.keys.Issuer(),
		"sub":        sub,
		"kind":       "user",
		"roles":      []string{"tester"},
		"credential": "jwt",
		"method":     fullMethod,
		"aud":        backend.ServiceName(fullMethod),
		"request_id": "req-" + base64.RawURLEncoding.EncodeToString(jti[:6]),
		"iat":        now.Unix(),
		"exp":        now.Add(ttl).Unix(),
		"jti":        base64.RawURLEncoding.EncodeToString(jti[:]),
	}
}

// Sign returns a compact JWS of claims signed with the current key, with
// its kid and typ backend.TokenType. Claims are taken as given.
func (g *Gateway) Sign(claims map[string]any) string { return g.keys.SignAs(backend.TokenType, claims) }

// Assertion returns a signed assertion for a call of fullMethod by sub,
// valid for 30 seconds.
func (g *Gateway) Assertion(fullMethod, sub string) string {
	return g.Sign(g.Claims(fullMethod, sub, 30*time.Second))
}

// OutgoingContext returns ctx with a fresh assertion for fullMethod by sub
// appended to its outgoing metadata, as the gateway sends it.
func (g *Gateway) OutgoingContext(ctx context.Context, fullMethod, sub string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, backend.MetadataKey, g.Assertion(fullMethod, sub))
}

// SignWith signs claims with key (a private key, or []byte for HMAC) under
// alg, kid and typ ("" omits either header). It is the building block for
// hostile assertions: an untrusted key, an HMAC secret, a wrong typ. It
// panics on error.
func SignWith(alg, kid, typ string, key any, claims map[string]any) string {
	return authntest.SignTyped(alg, kid, typ, key, claims)
}
