package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/interceptors/backend"
)

// Algorithms a Signer signs with.
const (
	// EdDSA is Ed25519 (RFC 8037), the default: small keys and signatures,
	// deterministic, constant time.
	EdDSA = "EdDSA"
	// ES256 is ECDSA on P-256 with SHA-256, for backends whose platform
	// lacks Ed25519.
	ES256 = "ES256"
)

// signingKey is one key of the Signer: its private half signs (while it is
// current), its public half is published (until it is retired).
type signingKey struct {
	kid    string
	alg    jose.SignatureAlgorithm
	signer jose.Signer
	public jose.JSONWebKey
}

// newSigningKey wraps priv, an ed25519.PrivateKey or a P-256
// *ecdsa.PrivateKey. The kid is the RFC 7638 thumbprint of the public key,
// so every gateway replica loading the same key names it the same.
func newSigningKey(priv crypto.Signer) (*signingKey, error) {
	var alg jose.SignatureAlgorithm
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA key on %s: only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("%T: only Ed25519 and P-256 ECDSA keys are supported", priv)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: string(alg), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	opts := (&jose.SignerOptions{}).
		WithType(jose.ContentType(backend.TokenType)).
		WithHeader(jose.HeaderKey("kid"), pub.KeyID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: priv}, opts)
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: pub.KeyID, alg: alg, signer: s, public: pub}, nil
}

// generate returns a new private key for alg.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("algorithm %q: not %q or %q", alg, EdDSA, ES256)
}

// GenerateKey returns a new private key for alg (EdDSA or ES256) as a
// PKCS#8 PEM block, the format Config.KeyPEM and KeyFile read: for
// `portcullis dev certs` and for provisioning a key that every gateway
// replica shares.
func GenerateKey(alg string) ([]byte, error) {
	k, err := generate(alg)
	if err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKeys reads every PEM block of data: "PRIVATE KEY" (PKCS#8) or "EC
// PRIVATE KEY" (SEC 1), Ed25519 or P-256. The first is the current key.
// Errors never quote key material.
func parseKeys(data []byte) ([]crypto.Signer, error) {
	var keys []crypto.Signer
	for i := 0; ; i++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			return nil, fmt.Errorf("PEM block %d: type %q is not PRIVATE KEY or EC PRIVATE KEY", i, b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: not a valid private key", i)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("PEM block %d: %T is not a signing key", i, k)
		}
		keys = append(keys, s)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM private key found")
	}
	return keys, nil
}

// publish swaps in a new snapshot.
func (s *Signer) publish(current *signingKey, keys []*signingKey) error {
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		if slices.ContainsFunc(set.Keys, func(j jose.JSONWebKey) bool { return j.KeyID == k.kid }) {
			return fmt.Errorf("assertion: key %q appears twice", k.kid)
		}
		set.Keys = append(set.Keys, k.public)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("assertion: marshal JWKS: %w", err)
	}
	s.state.Store(&keyState{current: current, published: keys, jwks: doc})
	return nil
}

// Rotate generates a new key of the configured algorithm, makes it the
// current signing key at once and keeps every previous key published until
// Retire, so assertions already signed keep verifying and backends pick
// the new key up by refreshing on its unknown kid. It returns the new kid.
// Rotate changes this Signer only: with several gateway replicas, rotate
// by deploying a new KeyPEM/KeyFile (new key first, old one second) to all
// of them. It is safe for concurrent use.
func (s *Signer) Rotate() (string, error) {
	priv, err := generate(s.alg)
	if err != nil {
		return "", fmt.Errorf("assertion: rotate: %w", err)
	}
	k, err := newSigningKey(priv)
	if err != nil {
		return "", fmt.Errorf("assertion: rotate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.state.Load()
	keys := append([]*signingKey{k}, cur.published...)
	if err := s.publish(k, keys); err != nil {
		return "", err
	}
	return k.kid, nil
}

// Load replaces every key with those of keyPEM, in the format of
// Config.KeyPEM: the first block becomes the current signing key and the
// others stay published. It is how a rotated secret (a refreshed
// assertion.key reference) takes effect without a restart: deploy the new
// key first and the old one second, then drop the old one once its
// assertions have expired. The current key must be of the Signer's
// algorithm. On error the keys are unchanged; errors never quote key
// material. It is safe for concurrent use.
func (s *Signer) Load(keyPEM []byte) error {
	privs, err := parseKeys(keyPEM)
	if err != nil {
		return fmt.Errorf("assertion: load: %w", err)
	}
	keys := make([]*signingKey, 0, len(privs))
	for i, p := range privs {
		k, err := newSigningKey(p)
		if err != nil {
			return fmt.Errorf("assertion: load: key %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	if string(keys[0].alg) != s.alg {
		return fmt.Errorf("assertion: load: current key is %s, algorithm is %s", keys[0].alg, s.alg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publish(keys[0], keys)
}

// Retire stops publishing the previous key kid. Retire it once every
// assertion it signed has expired (the lifetime plus the backends' leeway
// after the rotation) and the backends no longer need it. The current key
// cannot be retired. It is safe for concurrent use.
func (s *Signer) Retire(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.state.Load()
	if kid == cur.current.kid {
		return fmt.Errorf("assertion: retire %q: it is the current key (Rotate first)", kid)
	}
	i := slices.IndexFunc(cur.published, func(k *signingKey) bool { return k.kid == kid })
	if i < 0 {
		return fmt.Errorf("assertion: retire %q: no such published key", kid)
	}
	return s.publish(cur.current, slices.Delete(slices.Clone(cur.published), i, i+1))
}
