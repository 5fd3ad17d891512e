package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
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

// jwkHead is what is checked of a JWK before go-jose parses it.
type jwkHead struct {
	Kty, Alg, Use string
	// Private or symmetric key material: such a key never belongs in a
	// published JWK Set and is refused.
	D, K, P, Q, Dp, Dq, Qi, Priv json.RawMessage
}

// parseJWKS parses a JWK Set document. Keys that cannot be used for
// verification (symmetric, private, encryption-only, weak, of an alg that
// is not allowed, malformed) are skipped and described in skipped. Only a
// document that is not a JWK Set at all is an error.
func parseJWKS(data []byte) (ks *keySet, skipped []string, err error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`not a JWK Set: no "keys" member`)
	}
	ks = &keySet{byKID: map[string][]*verifyKey{}, sum: sha256.Sum256(data)}
	for i, raw := range *doc.Keys {
		k, why := parseJWK(raw)
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %s", i, why))
			continue
		}
		ks.byKID[k.kid] = append(ks.byKID[k.kid], k)
		ks.n++
	}
	return ks, skipped, nil
}

func parseJWK(raw json.RawMessage) (*verifyKey, string) {
	var h jwkHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, "not a JSON object"
	}
	switch {
	case h.Kty != "RSA" && h.Kty != "EC" && h.Kty != "OKP":
		return nil, fmt.Sprintf("kty %q refused (only RSA, EC, OKP)", h.Kty)
	case h.D != nil || h.K != nil || h.P != nil || h.Q != nil || h.Dp != nil || h.Dq != nil || h.Qi != nil || h.Priv != nil:
		return nil, "contains private key material"
	case h.Use != "" && h.Use != "sig":
		return nil, fmt.Sprintf("use %q is not sig", h.Use)
	case h.Alg != "" && !slices.Contains(allowedAlgs, jose.SignatureAlgorithm(h.Alg)):
		return nil, fmt.Sprintf("alg %q refused", h.Alg)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, err.Error()
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Sprintf("RSA key of %d bits refused (minimum 2048)", pub.N.BitLen())
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Sprintf("key type %T refused", k.Key)
	}
	return &verifyKey{kid: k.KeyID, alg: jose.SignatureAlgorithm(k.Algorithm), pub: k.Key}, ""
}

// fits reports whether k may verify a signature made with alg: the JWK's
// own alg (if any) must be alg, and the key type and curve must be the
// ones alg is defined for.
func (k *verifyKey) fits(alg jose.SignatureAlgorithm) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return pub.Curve.Params().Name == "P-256"
		case jose.ES384:
			return pub.Curve.Params().Name == "P-384"
		case jose.ES512:
			return pub.Curve.Params().Name == "P-521"
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
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

// fetch reads the issuer's JWKS document from its file or URL, bounded by
// MaxJWKSBytes (and FetchTimeout for a URL).
func (is *issuer) fetch(ctx context.Context) ([]byte, error) {
	if is.cfg.JWKSFile != "" {
		f, err := os.Open(is.cfg.JWKSFile)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // read-only
		return readLimited(f, is.cfg.MaxJWKSBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, is.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, is.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	// No conditional request (If-None-Match): a refresh for an unknown kid
	// must see the current document, whatever an ETag says.
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := is.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", is.cfg.JWKSURL, resp.Status)
	}
	return readLimited(resp.Body, is.cfg.MaxJWKSBytes)
}

func readLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("JWK Set larger than %d bytes", max)
	}
	return b, nil
}

// reload fetches and parses the key set and swaps it in if it changed. On
// any error the current set stays. A changed set drops the issuer's cached
// tokens, so that a removed key stops working at once.
func (is *issuer) reload(ctx context.Context) error {
	data, err := is.fetch(ctx)
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
