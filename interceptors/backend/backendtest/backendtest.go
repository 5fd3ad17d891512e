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
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/backend"
)

// Gateway signs assertions with one current key and publishes any number
// of older ones until RemoveOld. It is safe for concurrent use.
type Gateway struct {
	iss string
	alg jose.SignatureAlgorithm

	mu   sync.Mutex
	keys []jose.JSONWebKey // private keys; the last one signs
}

// New returns a gateway whose assertions carry iss and are signed with
// alg, "EdDSA" or "ES256". It panics on any other alg.
func New(iss, alg string) *Gateway {
	g := &Gateway{iss: iss, alg: jose.SignatureAlgorithm(alg)}
	g.keys = []jose.JSONWebKey{g.newKey()}
	return g
}

// Issuer returns the iss of the gateway's assertions.
func (g *Gateway) Issuer() string { return g.iss }

// KeyID returns the kid of the current key (its RFC 7638 thumbprint).
func (g *Gateway) KeyID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys[len(g.keys)-1].KeyID
}

// PrivateKey returns the current private key, for hostile tests.
func (g *Gateway) PrivateKey() crypto.Signer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys[len(g.keys)-1].Key.(crypto.Signer)
}

func (g *Gateway) newKey() jose.JSONWebKey {
	var priv crypto.Signer
	var err error
	switch g.alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic(fmt.Sprintf("backendtest: unsupported alg %q", g.alg))
	}
	if err != nil {
		panic(fmt.Sprintf("backendtest: generate %s key: %v", g.alg, err))
	}
	k := jose.JSONWebKey{Key: priv, Algorithm: string(g.alg), Use: "sig"}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		panic(fmt.Sprintf("backendtest: thumbprint: %v", err))
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return k
}

// Rotate makes a new key the signing key. The old keys stay in the JWK
// Set, so assertions they signed keep verifying until RemoveOld.
func (g *Gateway) Rotate() {
	k := g.newKey()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys = append(g.keys, k)
}

// RemoveOld drops every key but the current one from the JWK Set.
func (g *Gateway) RemoveOld() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys = g.keys[len(g.keys)-1:]
}

// JWKS returns the public JWK Set of every key.
func (g *Gateway) JWKS() []byte {
	g.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range g.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	g.mu.Unlock()
	b, err := json.Marshal(set)
	if err != nil {
		panic(fmt.Sprintf("backendtest: marshal JWKS: %v", err))
	}
	return b
}

// WriteJWKS writes JWKS() to path atomically (a temporary file in the same
// directory, then a rename).
func (g *Gateway) WriteJWKS(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".jwks-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }() // a no-op after the rename
	if _, err := f.Write(g.JWKS()); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Claims returns the claims the gateway would sign for a call of
// fullMethod by sub, valid from now for ttl: iss, sub, kind "user", roles,
// credential "jwt", method, aud (the method's service), request_id, iat,
// exp and a random jti. Change entries before passing it to Sign.
func (g *Gateway) Claims(fullMethod, sub string, ttl time.Duration) map[string]any {
	now := time.Now()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	return map[string]any{
		"iss":        g.iss,
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
func (g *Gateway) Sign(claims map[string]any) string {
	g.mu.Lock()
	k := g.keys[len(g.keys)-1]
	g.mu.Unlock()
	return SignWith(string(g.alg), k.KeyID, backend.TokenType, k.Key, claims)
}

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
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		panic(fmt.Sprintf("backendtest: signer: %v", err))
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("backendtest: marshal claims: %v", err))
	}
	jws, err := s.Sign(payload)
	if err != nil {
		panic(fmt.Sprintf("backendtest: sign: %v", err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		panic(fmt.Sprintf("backendtest: serialize: %v", err))
	}
	return tok
}
