package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/interceptors/internal/jwks"
)

// keySet is one immutable snapshot of an issuer's JWK Set. Cache entries
// remember the snapshot that verified them and are only valid while it is
// still the issuer's current one.
type keySet struct {
	byKID map[string][]*verifyKey
	n     int
	sum   [32]byte // SHA-256 of the document, to skip unchanged reloads
}

// verifyKey is one usable public key.
type verifyKey struct {
	kid string
	alg jose.SignatureAlgorithm // from the JWK's "alg", or ""
	pub any                     // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// jwksPolicy is what an issuer's key may be: RSA (of at least 2048 bits),
// EC or OKP, for an alg in allowedAlgs. A kid is optional and may be shared
// by keys of different algorithms; lookup picks the one that fits.
var jwksPolicy = &jwks.Policy{
	Kty:        []string{"RSA", "EC", "OKP"},
	Algs:       allowedAlgs,
	MinRSABits: 2048,
}

// parseJWKS parses a JWK Set document. Keys that cannot be used for
// verification (symmetric, private, encryption-only, weak, of an alg that
// is not allowed, malformed) are skipped and described in skipped. Only a
// document that is not a JWK Set at all is an error.
func parseJWKS(data []byte) (ks *keySet, skipped []string, err error) {
	keys, skipped, err := jwks.Parse(data, jwksPolicy)
	if err != nil {
		return nil, nil, err
	}
	ks = &keySet{byKID: map[string][]*verifyKey{}, n: len(keys), sum: sha256.Sum256(data)}
	for _, k := range keys {
		// The kid and alg as go-jose read them (member names matched
		// exactly), which is what authn has always used.
		ks.byKID[k.KID] = append(ks.byKID[k.KID], &verifyKey{kid: k.KID, alg: jose.SignatureAlgorithm(k.JWK.Algorithm), pub: k.Pub})
	}
	return ks, skipped, nil
}

// fits reports whether k may verify a signature made with alg: the JWK's
// own alg (if any) must be alg, and the key type and curve must be the
// ones alg is defined for.
func (k *verifyKey) fits(alg jose.SignatureAlgorithm) bool {
	return jwks.Fits(k.pub, k.alg, alg)
}

// lookup returns the key for a token's kid and alg. A token without a kid
// is only accepted when the set has exactly one key.
func (ks *keySet) lookup(kid string, alg jose.SignatureAlgorithm) (*verifyKey, string) {
	cands := ks.byKID[kid]
	if kid == "" && len(cands) == 0 {
		if ks.n != 1 {
			return nil, fmt.Sprintf("token has no kid and the key set has %d keys", ks.n)
		}
		for _, c := range ks.byKID {
			cands = c
		}
	}
	if len(cands) == 0 {
		return nil, ""
	}
	for _, k := range cands {
		if k.fits(alg) {
			return k, ""
		}
	}
	return nil, fmt.Sprintf("key %q does not fit alg %s", kid, alg)
}

// reload fetches and parses the key set and swaps it in if it changed. On
// any error the current set stays. A changed set drops the issuer's cached
// tokens, so that a removed key stops working at once.
func (is *issuer) reload(ctx context.Context) error {
	data, err := jwks.Fetch(ctx, jwks.Source{
		File:     is.cfg.JWKSFile,
		URL:      is.cfg.JWKSURL,
		MaxBytes: is.cfg.MaxJWKSBytes,
		Timeout:  is.cfg.FetchTimeout,
		Client:   is.client,
	})
	if err != nil {
		return fmt.Errorf("authn: issuer %q: load JWKS %s: %w", is.cfg.Issuer, is.source(), err)
	}
	if cur := is.keys.Load(); cur != nil && cur.sum == sha256.Sum256(data) {
		return nil
	}
	ks, skipped, err := parseJWKS(data)
	if err != nil {
		return fmt.Errorf("authn: issuer %q: JWKS %s: %w", is.cfg.Issuer, is.source(), err)
	}
	for _, s := range skipped {
		is.log.Warn("authn: JWKS key skipped", "issuer", is.cfg.Issuer, "source", is.source(), "reason", s)
	}
	if ks.n == 0 {
		is.log.Warn("authn: JWKS has no usable key", "issuer", is.cfg.Issuer, "source", is.source())
	}
	is.keys.Store(ks)
	is.cache.dropIssuer(is)
	return nil
}

func (is *issuer) source() string {
	if is.cfg.JWKSFile != "" {
		return is.cfg.JWKSFile
	}
	return is.cfg.JWKSURL
}

// refresh reloads the key set at most once per MinRefreshInterval (unless
// forced), with concurrent callers sharing one fetch. It is how a token
// naming an unknown kid gets a second chance after a key rotation, without
// letting a flood of such tokens hammer the identity provider.
func (is *issuer) refresh(ctx context.Context, force bool) {
	is.mu.Lock()
	if ch := is.inflight; ch != nil {
		is.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	now := is.now()
	if !force && !is.last.IsZero() && now.Sub(is.last) < is.cfg.MinRefreshInterval {
		is.mu.Unlock()
		return
	}
	is.last = now
	ch := make(chan struct{})
	is.inflight = ch
	is.mu.Unlock()

	// The fetch runs on the Authenticator's context, not the caller's: a
	// caller that gives up must not cancel the fetch the others wait for.
	if err := is.reload(is.base); err != nil {
		is.log.Warn("authn: JWKS refresh failed", "error", err)
	}
	is.mu.Lock()
	is.inflight = nil
	is.mu.Unlock()
	close(ch)
}

// run re-reads the key set every RefreshInterval until ctx ends.
func (is *issuer) run(ctx context.Context) {
	t := time.NewTicker(is.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			is.refresh(ctx, true)
		}
	}
}
