package signature

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
	"github.com/portcullis/portcullis/policy"
)

// errRefused is the only error a refused call gets, whatever the reason.
var errRefused = status.Error(codes.Unauthenticated, "invalid request signature")

// Nonce length bounds: long enough to be unique per key, short enough to
// bound the cache.
const (
	minNonceLen = 8
	maxNonceLen = 128
)

// Key is the verification key of one keyid.
type Key struct {
	// Algorithm is the key's algorithm. A signature whose alg parameter
	// names another algorithm is refused.
	Algorithm httpsig.Algorithm
	// Public is the public key of ed25519 (ed25519.PublicKey) and
	// ecdsa-p256-sha256 (*ecdsa.PublicKey on P-256) keys.
	Public any
	// Secret is the shared secret of an hmac-sha256 key, at least
	// httpsig.MinHMACKeyBytes long.
	Secret []byte
}

// material returns the key handed to httpsig.Verify.
func (k *Key) material() any {
	if k.Algorithm == httpsig.HMACSHA256 {
		return k.Secret
	}
	return k.Public
}

// KeySource finds the verification key named by a signature's keyid
// parameter. The gateway backs it with the API keys of the policy bundle.
// It is called on every signed call, concurrently, after the signature
// parameters have been checked and before the signature is; it must be
// safe for concurrent use and should answer from memory. The returned key
// is not modified.
type KeySource interface {
	SignatureKey(ctx context.Context, keyID string) (*Key, bool)
}

// KeySourceFunc adapts a function to a KeySource.
type KeySourceFunc func(ctx context.Context, keyID string) (*Key, bool)

// SignatureKey calls f(ctx, keyID).
func (f KeySourceFunc) SignatureKey(ctx context.Context, keyID string) (*Key, bool) {
	return f(ctx, keyID)
}

// Verified describes the signature a call was let through with.
type Verified struct {
	// Label is the signature's label in Signature-Input.
	Label string
	// KeyID is the keyid parameter, the key that verified the signature.
	KeyID string
	// Algorithm is the key's algorithm.
	Algorithm httpsig.Algorithm
	// Created and Expires are the signature's times (Expires zero if none).
	Created, Expires time.Time
	// Nonce is the nonce parameter, now used up.
	Nonce string
	// Tag is the tag parameter, or "".
	Tag string
	// Components are the covered components, in signed order.
	Components []string
}

type verifiedKey struct{}

// FromContext returns the verified signature of the call, set by the
// interceptors and by HTTPMiddleware (on the request's context) for calls
// they let through after verifying a signature.
func FromContext(ctx context.Context) (*Verified, bool) {
	v, ok := ctx.Value(verifiedKey{}).(*Verified)
	return v, ok
}

// Verifier checks signed requests: HTTP Message Signatures (RFC 9421) on
// the REST front and the equivalent metadata profile on gRPC (see the
// package documentation). It is built once by New, immutable afterwards
// and safe for concurrent use; it starts no goroutines.
type Verifier struct {
	keys   KeySource
	o      *options
	nonces NonceCache
}

// New returns a Verifier that looks keys up in keys. It validates every
// option: the window must be positive, the required components supported,
// the body and nonce cache bounds positive.
func New(keys KeySource, opts ...Option) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("signature: nil KeySource")
	}
	o := evaluateOptions(opts)
	switch {
	case o.window <= 0:
		return nil, fmt.Errorf("signature: WithWindow(%v): must be positive", o.window)
	case o.maxBodyBytes < 1:
		return nil, fmt.Errorf("signature: WithMaxBodyBytes(%d): must be positive", o.maxBodyBytes)
	case !o.nonceCacheSet && o.memoryNonces < 1:
		return nil, fmt.Errorf("signature: WithMemoryNonceCacheSize(%d): must be positive", o.memoryNonces)
	}
	for _, c := range o.components {
		if _, err := (&httpsig.Input{Label: "x", Components: []string{c}}).Params(); err != nil || c == "@status" {
			return nil, fmt.Errorf("signature: WithRequiredComponents(%q): not a supported request component", c)
		}
	}
	v := &Verifier{keys: keys, o: o, nonces: o.nonces}
	if v.nonces == nil {
		v.nonces = newMemoryNonceCache(o.memoryNonces, o.now)
	}
	return v, nil
}

// request is one signed call as a transport sees it.
type request struct {
	sigInput, sig string           // the joined field or metadata values
	resolve       httpsig.Resolver // the message's components
	required      []string         // components that must be covered
}

// check verifies everything but the nonce and, for content digests, the
// content: one signature, its parameters, the covered components, the key
// and the signature itself. It returns the verified signature, or the
// reason for refusing it.
func (v *Verifier) check(ctx context.Context, r request) (*Verified, string) {
	if r.sigInput == "" || r.sig == "" {
		return nil, "no signature"
	}
	ins, err := httpsig.ParseSignatureInput(r.sigInput)
	if err != nil {
		return nil, "signature input: " + err.Error()
	}
	sigs, err := httpsig.ParseSignatures(r.sig)
	if err != nil {
		return nil, "signature: " + err.Error()
	}
	if len(ins) != 1 || len(sigs) != 1 {
		return nil, fmt.Sprintf("want exactly one signature, got %d inputs and %d signatures", len(ins), len(sigs))
	}
	in := ins[0]
	sig, ok := sigs[in.Label]
	if !ok {
		return nil, fmt.Sprintf("no signature labelled %q", in.Label)
	}
	if why := v.checkParams(in); why != "" {
		return nil, why
	}
	for _, c := range r.required {
		if !slices.Contains(in.Components, c) {
			return nil, fmt.Sprintf("component %s is not covered", c)
		}
	}
	k, ok := v.keys.SignatureKey(ctx, in.KeyID)
	if !ok || k == nil {
		return nil, fmt.Sprintf("unknown keyid %q", in.KeyID)
	}
	if in.Alg != "" && in.Alg != string(k.Algorithm) {
		return nil, fmt.Sprintf("alg %q does not match key %q (%s)", in.Alg, in.KeyID, k.Algorithm)
	}
	base, err := httpsig.Base(in, r.resolve)
	if err != nil {
		return nil, err.Error()
	}
	if err := httpsig.Verify(k.Algorithm, k.material(), base, sig); err != nil {
		return nil, fmt.Sprintf("keyid %q: %v", in.KeyID, err)
	}
	out := &Verified{
		Label: in.Label, KeyID: in.KeyID, Algorithm: k.Algorithm, Nonce: in.Nonce, Tag: in.Tag,
		Created: time.Unix(in.Created, 0), Components: in.Components,
	}
	if in.Has(httpsig.ParamExpires) {
		out.Expires = time.Unix(in.Expires, 0)
	}
	return out, ""
}

// checkParams applies the time window and parameter requirements.
func (v *Verifier) checkParams(in *httpsig.Input) string {
	now := v.o.now()
	switch {
	case !in.Has(httpsig.ParamCreated):
		return "no created parameter"
	case !in.Has(httpsig.ParamKeyID) || in.KeyID == "":
		return "no keyid parameter"
	case !in.Has(httpsig.ParamNonce):
		return "no nonce parameter"
	case len(in.Nonce) < minNonceLen || len(in.Nonce) > maxNonceLen:
		return fmt.Sprintf("nonce of %d bytes, want %d to %d", len(in.Nonce), minNonceLen, maxNonceLen)
	}
	created := time.Unix(in.Created, 0)
	switch {
	case now.Sub(created) > v.o.window:
		return fmt.Sprintf("created %s ago, more than the window of %s", now.Sub(created).Truncate(time.Second), v.o.window)
	case created.Sub(now) > v.o.window:
		return fmt.Sprintf("created %s in the future, more than the window of %s", created.Sub(now).Truncate(time.Second), v.o.window)
	}
	if in.Has(httpsig.ParamExpires) {
		switch expires := time.Unix(in.Expires, 0); {
		case in.Expires <= in.Created:
			return "expires is not after created"
		case !now.Before(expires):
			return fmt.Sprintf("expired %s ago", now.Sub(expires).Truncate(time.Second))
		}
	}
	return ""
}

// useNonce records the verified signature's nonce, scoped to its key, until
// the signature could no longer be accepted, and reports a replay.
func (v *Verifier) useNonce(ctx context.Context, s *Verified) string {
	deadline := s.Created.Add(v.o.window)
	if !s.Expires.IsZero() && s.Expires.Before(deadline) {
		deadline = s.Expires
	}
	// The second covers created's rounding to seconds and small clock
	// differences between replicas sharing a cache.
	ttl := deadline.Sub(v.o.now()) + time.Second
	h := sha256.New()
	h.Write([]byte(s.KeyID))
	h.Write([]byte{0})
	h.Write([]byte(s.Nonce))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	fresh, err := v.nonces.Add(ctx, key, ttl)
	switch {
	case err != nil:
		return "nonce cache: " + err.Error()
	case !fresh:
		return fmt.Sprintf("nonce of keyid %q already used (replay)", s.KeyID)
	}
	return ""
}

// refuse records why and returns the fixed error.
func (v *Verifier) refuse(ctx context.Context, where, why string) error {
	if rec := policy.RecordFrom(ctx); rec != nil {
		rec.AuthnFailure = "signature: " + why
	}
	if v.o.logger.Enabled(ctx, slog.LevelDebug) {
		v.o.logger.LogAttrs(ctx, slog.LevelDebug, "signature: refused", slog.String("call", where), slog.String("reason", why))
	}
	return errRefused
}
