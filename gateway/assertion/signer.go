package assertion

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/gateway/secrets"
	"github.com/portcullis/portcullis/interceptors/backend"
)

// MetadataKey is the metadata key of the assertion on forwarded calls,
// "x-portcullis-assertion". It has the internal prefix, so the gateway
// strips any client-sent copy before its chain runs; Attach adds the
// gateway's own on the outgoing call only.
const MetadataKey = backend.MetadataKey

// JWKSPath is where the admin listener publishes JWKS().
const JWKSPath = "/.well-known/portcullis-jwks.json"

// Config configures a Signer. New validates it; changing it afterwards has
// no effect.
type Config struct {
	// Issuer is the gateway's id, the iss of every assertion and what
	// backends configure as backend.Config.Issuer. Required.
	Issuer string
	// Algorithm of generated and rotated keys: EdDSA (the default) or
	// ES256. A loaded current key must be of this algorithm when set.
	Algorithm string
	// KeyPEM holds PEM private keys (PKCS#8 or SEC 1; Ed25519 or P-256),
	// typically the value of a secret reference resolved with
	// gateway/secrets. The first block is the current signing key; further
	// blocks are previous keys, still published (so a rotation survives a
	// restart: put the new key first, drop the old one later). At most one
	// of KeyPEM and KeyFile; with neither, New generates a key in memory,
	// which suits a single gateway only (every replica would publish a
	// different set).
	KeyPEM []byte
	// KeyFile is a file holding what KeyPEM holds. It is read once by New
	// and, like every secret file, refused when group or others may access
	// it (chmod 600).
	KeyFile string
	// Lifetime of each assertion. Default 30s, at most 5m (what backends
	// accept by default).
	Lifetime time.Duration
}

const (
	defaultLifetime = 30 * time.Second
	maxLifetime     = 5 * time.Minute
)

// Option configures a Signer.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock sets the time source of iat and exp, for tests. The default is
// time.Now; a nil clock keeps it.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// Signer holds the gateway's signing keys and signs assertions. Sign,
// Attach, JWKS and ServeHTTP are safe for concurrent use with each other
// and with Rotate and Retire; the key state is an immutable snapshot
// swapped atomically.
type Signer struct {
	iss      string
	alg      string
	lifetime time.Duration
	now      func() time.Time

	mu    sync.Mutex // serializes Rotate and Retire
	state atomic.Pointer[keyState]
}

// keyState is one immutable snapshot of the keys.
type keyState struct {
	current   *signingKey
	published []*signingKey // current first
	jwks      []byte
}

// New validates cfg and loads or generates the signing keys.
func New(cfg Config, opts ...Option) (*Signer, error) {
	o := &options{now: time.Now}
	for _, opt := range opts {
		opt(o)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("assertion: config: issuer: required (the gateway's id)")
	}
	switch {
	case cfg.Lifetime < 0 || cfg.Lifetime > maxLifetime:
		return nil, fmt.Errorf("assertion: config: lifetime: %v is not within (0, %v]", cfg.Lifetime, maxLifetime)
	case cfg.Lifetime == 0:
		cfg.Lifetime = defaultLifetime
	}
	if cfg.Lifetime%time.Second != 0 {
		return nil, fmt.Errorf("assertion: config: lifetime: %v is not whole seconds (exp is in seconds)", cfg.Lifetime)
	}
	if cfg.KeyPEM != nil && cfg.KeyFile != "" {
		return nil, errors.New("assertion: config: key_pem, key_file: at most one")
	}
	if cfg.Algorithm != "" && cfg.Algorithm != EdDSA && cfg.Algorithm != ES256 {
		return nil, fmt.Errorf("assertion: config: algorithm: %q is not %q or %q", cfg.Algorithm, EdDSA, ES256)
	}
	var privs []crypto.Signer
	data, src := cfg.KeyPEM, "key_pem"
	if cfg.KeyFile != "" {
		var err error
		if data, err = secrets.ReadFile(cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("assertion: config: key_file: %w", err)
		}
		src = fmt.Sprintf("key_file %s", cfg.KeyFile)
	}
	if data != nil {
		var err error
		if privs, err = parseKeys(data); err != nil {
			return nil, fmt.Errorf("assertion: config: %s: %w", src, err)
		}
	}
	s := &Signer{iss: cfg.Issuer, alg: cfg.Algorithm, lifetime: cfg.Lifetime, now: o.now}
	if len(privs) == 0 {
		if s.alg == "" {
			s.alg = EdDSA
		}
		k, err := generate(s.alg)
		if err != nil {
			return nil, fmt.Errorf("assertion: %w", err)
		}
		privs = []crypto.Signer{k}
	}
	var keys []*signingKey
	for i, p := range privs {
		k, err := newSigningKey(p)
		if err != nil {
			return nil, fmt.Errorf("assertion: config: %s: key %d: %w", src, i, err)
		}
		keys = append(keys, k)
	}
	if s.alg == "" {
		s.alg = string(keys[0].alg)
	}
	if string(keys[0].alg) != s.alg {
		return nil, fmt.Errorf("assertion: config: %s: current key is %s, algorithm is %s", src, keys[0].alg, s.alg)
	}
	if err := s.publish(keys[0], keys); err != nil {
		return nil, err
	}
	return s, nil
}

// Sign returns a's assertion as a compact JWS signed with the current key:
// header alg, kid and typ "portcullis-assertion+jwt"; claims iss, sub,
// aud, kind, roles, credential, method, request_id, iat, exp (iat plus the
// lifetime) and a random jti (see backend.Assertion). Every call signs
// afresh: assertions are not cached, so each has its own jti and request
// id (see the package doc for the cost). a.Subject and a.Kind are
// required, a.Method must be a full method name; an empty a.Audience
// means the method's service. It is safe for concurrent use.
func (s *Signer) Sign(a Assertion) (string, error) {
	svc := backend.ServiceName(a.Method)
	switch {
	case svc == "":
		return "", fmt.Errorf("assertion: method %q is not a full method name", a.Method)
	case a.Subject == "" || a.Kind == "":
		return "", errors.New("assertion: subject and kind are required")
	}
	aud := a.Audience
	if aud == "" {
		aud = svc
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // never fails (crypto/rand, Go 1.24+)
	now := s.now().Unix()
	cred := ""
	if a.Credential != 0 {
		cred = a.Credential.String()
	}
	payload, err := json.Marshal(&backend.Assertion{
		Issuer: s.iss, Subject: a.Subject, Audience: aud, Kind: a.Kind, Roles: a.Roles,
		Credential: cred, Method: a.Method, RequestID: a.RequestID,
		IssuedAt: now, ExpiresAt: now + int64(s.lifetime/time.Second),
		ID: base64.RawURLEncoding.EncodeToString(jti[:]),
	})
	if err != nil {
		return "", fmt.Errorf("assertion: marshal claims: %w", err)
	}
	jws, err := s.state.Load().current.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("assertion: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// Attach signs a and returns ctx with the assertion appended to its
// outgoing metadata under MetadataKey, for the call to the backend. The
// gateway calls it in its director, after its chain stripped every
// client-sent internal key, so the backend call carries exactly one
// assertion (a backend refuses a call with two). It is safe for
// concurrent use.
func (s *Signer) Attach(ctx context.Context, a Assertion) (context.Context, error) {
	tok, err := s.Sign(a)
	if err != nil {
		return ctx, err
	}
	return metadata.AppendToOutgoingContext(ctx, MetadataKey, tok), nil
}

// SetMetadata signs a and sets it as the one MetadataKey value of md,
// replacing any other: for a director that edits the backend call's
// metadata copy directly (after removing the internal keys) instead of
// deriving a context. It is safe for concurrent use on distinct md.
func (s *Signer) SetMetadata(md metadata.MD, a Assertion) error {
	tok, err := s.Sign(a)
	if err != nil {
		return err
	}
	md[MetadataKey] = []string{tok}
	return nil
}
