// Package authntest is an in-memory token issuer and certificate authority
// for tests and demos of the authn interceptors: it signs JWTs, publishes
// its JWKS, rotates keys and issues client certificates, all without a
// network or files other than the ones it is asked to write.
//
// Nothing here is fit for production: keys live in memory, errors panic,
// and certificates are valid for a day.
package authntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a test token issuer with one current signing key and any number
// of older keys that its JWKS still publishes. It is safe for concurrent use.
type Issuer struct {
	iss string
	alg jose.SignatureAlgorithm

	mu   sync.Mutex
	keys []jose.JSONWebKey // private keys; the last one signs
}

// NewIssuer returns an issuer whose tokens carry iss and are signed with
// alg: "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
// "ES384", "ES512" or "EdDSA". It panics on any other alg.
func NewIssuer(iss, alg string) *Issuer {
	i := &Issuer{iss: iss, alg: jose.SignatureAlgorithm(alg)}
	i.keys = []jose.JSONWebKey{i.newKey()}
	return i
}

// Issuer returns the iss value of the issuer's tokens.
func (i *Issuer) Issuer() string { return i.iss }

// Alg returns the signing algorithm.
func (i *Issuer) Alg() string { return string(i.alg) }

// KeyID returns the kid of the current signing key (its RFC 7638
// thumbprint).
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].KeyID
}

// PublicKey returns the current signing key's public key.
func (i *Issuer) PublicKey() crypto.PublicKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].Public().Key
}

// PrivateKey returns the current signing key, for hostile tests.
func (i *Issuer) PrivateKey() crypto.Signer {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].Key.(crypto.Signer)
}

func (i *Issuer) newKey() jose.JSONWebKey {
	var priv crypto.Signer
	var err error
	switch i.alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic(fmt.Sprintf("authntest: unsupported alg %q", i.alg))
	}
	if err != nil {
		panic(fmt.Sprintf("authntest: generate %s key: %v", i.alg, err))
	}
	k := jose.JSONWebKey{Key: priv, Algorithm: string(i.alg), Use: "sig"}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		panic(fmt.Sprintf("authntest: thumbprint: %v", err))
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return k
}

// Rotate makes a new key the signing key. The old keys stay in the JWKS,
// so tokens they signed keep verifying until RemoveOld.
func (i *Issuer) Rotate() {
	k := i.newKey()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
}

// RemoveOld drops every key but the current signing key from the JWKS.
func (i *Issuer) RemoveOld() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = i.keys[len(i.keys)-1:]
}

// JWKS returns the public JWK Set of every key, current one last.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	i.mu.Unlock()
	b, err := json.Marshal(set)
	if err != nil {
		panic(fmt.Sprintf("authntest: marshal JWKS: %v", err))
	}
	return b
}

// WriteJWKS writes JWKS() to path atomically (a temporary file in the same
// directory, then a rename), so a reader never sees a partial file.
func (i *Issuer) WriteJWKS(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".jwks-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }() // a no-op after the rename
	if _, err := f.Write(i.JWKS()); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Claims returns the usual claims of a token for sub and aud, valid from
// now for ttl: iss, sub, aud, iat, nbf, exp and a random jti. Add or delete
// entries before passing it to Sign.
func (i *Issuer) Claims(sub, aud string, ttl time.Duration) map[string]any {
	now := time.Now()
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	return map[string]any{
		"iss": i.iss,
		"sub": sub,
		"aud": aud,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
	}
}

// Sign returns a compact JWS of claims signed with the current key, with
// the key's kid and "typ": "JWT" in the header. Claims are taken as given
// (Sign adds nothing); it panics if they cannot be encoded.
func (i *Issuer) Sign(claims map[string]any) string { return i.SignAs("JWT", claims) }

// SignAs is Sign with typ as the "typ" header ("" omits it).
func (i *Issuer) SignAs(typ string, claims map[string]any) string {
	i.mu.Lock()
	k := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	return SignTyped(string(i.alg), k.KeyID, typ, k.Key, claims)
}

// SignWith signs claims with key (a private key, or []byte for HS256) under
// alg and kid ("" omits the kid), with "typ": "JWT". It is the building
// block for hostile tokens: a key from another issuer, an HMAC secret, a
// mismatched alg. It panics on error.
func SignWith(alg, kid string, key any, claims map[string]any) string {
	return SignTyped(alg, kid, "JWT", key, claims)
}

// SignTyped is SignWith with typ as the "typ" header ("" omits it).
func SignTyped(alg, kid, typ string, key any, claims map[string]any) string {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		panic(fmt.Sprintf("authntest: signer: %v", err))
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("authntest: marshal claims: %v", err))
	}
	jws, err := s.Sign(payload)
	if err != nil {
		panic(fmt.Sprintf("authntest: sign: %v", err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		panic(fmt.Sprintf("authntest: serialize: %v", err))
	}
	return tok
}

// Thumbprint returns the RFC 8705 x5t#S256 value of cert: the base64url
// (unpadded) SHA-256 of its DER encoding.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CNF returns the cnf claim that binds a token to cert:
// {"x5t#S256": Thumbprint(cert)}. Set it as claims["cnf"].
func CNF(cert *x509.Certificate) map[string]any {
	return map[string]any{"x5t#S256": Thumbprint(cert)}
}
