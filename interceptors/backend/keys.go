package backend

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is one immutable snapshot of the gateway's published keys.
type keySet struct {
	byKID map[string]*verifyKey
	doc   []byte // the document it was parsed from, to skip unchanged reloads
}

// verifyKey is one usable public key.
type verifyKey struct {
	alg jose.SignatureAlgorithm // from the JWK's "alg", or ""
	pub any                     // *ecdsa.PublicKey (P-256) or ed25519.PublicKey
}

// parseJWKS parses a JWK Set. Keys that cannot verify assertions (no kid,
// a duplicate kid, symmetric, private, encryption-only, another curve or
// algorithm, malformed) are skipped and described in skipped; only a
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
	ks = &keySet{byKID: map[string]*verifyKey{}, doc: data}
	dup := map[string]bool{}
	for i, raw := range *doc.Keys {
		kid, k, why := parseJWK(raw)
		if why == "" && (dup[kid] || ks.byKID[kid] != nil) {
			// Two keys under one kid: which one signed is ambiguous, so
			// neither is used.
			delete(ks.byKID, kid)
			dup[kid] = true
			why = fmt.Sprintf("kid %q appears more than once", kid)
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %s", i, why))
			continue
		}
		ks.byKID[kid] = k
	}
	return ks, skipped, nil
}

func parseJWK(raw json.RawMessage) (string, *verifyKey, string) {
	var h struct {
		Kty, Alg, Use, Kid string
		// Private or symmetric key material never belongs in a published
		// set; such a key is refused.
		D, K json.RawMessage
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", nil, "not a JSON object"
	}
	switch {
	case h.Kid == "":
		return "", nil, "no kid"
	case h.Kty != "OKP" && h.Kty != "EC":
		return "", nil, fmt.Sprintf("kty %q refused (only OKP and EC)", h.Kty)
	case h.D != nil || h.K != nil:
		return "", nil, "contains private key material"
	case h.Use != "" && h.Use != "sig":
		return "", nil, fmt.Sprintf("use %q is not sig", h.Use)
	case h.Alg != "" && h.Alg != string(jose.EdDSA) && h.Alg != string(jose.ES256):
		return "", nil, fmt.Sprintf("alg %q refused", h.Alg)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return "", nil, err.Error()
	}
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if pub.Curve.Params().Name != "P-256" {
			return "", nil, fmt.Sprintf("curve %s refused (only P-256)", pub.Curve.Params().Name)
		}
	default:
		return "", nil, fmt.Sprintf("key type %T refused", k.Key)
	}
	return h.Kid, &verifyKey{alg: jose.SignatureAlgorithm(h.Alg), pub: k.Key}, ""
}

// fits reports whether k may verify a signature made with alg.
func (k *verifyKey) fits(alg jose.SignatureAlgorithm) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch k.pub.(type) {
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	case *ecdsa.PublicKey:
		return alg == jose.ES256 // the curve was checked to be P-256
	}
	return false
}

// keySource holds the current key set and reloads it from its file or URL.
type keySource struct {
	cfg    *Config
	keys   atomic.Pointer[keySet]
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	base   context.Context // the Verifier's lifetime

	mu          sync.Mutex    // guards lastUnknown and inflight
	lastUnknown time.Time     // start of the last unknown-kid fetch
	inflight    chan struct{} // closed when the running fetch ends
}

func (s *keySource) source() string {
	if s.cfg.JWKSFile != "" {
		return s.cfg.JWKSFile
	}
	return s.cfg.JWKSURL
}

// fetch reads the JWK Set from the file or URL, bounded by MaxJWKSBytes
// (and FetchTimeout for a URL).
func (s *keySource) fetch(ctx context.Context) ([]byte, error) {
	if s.cfg.JWKSFile != "" {
		f, err := os.Open(s.cfg.JWKSFile)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // read-only
		return readLimited(f, s.cfg.MaxJWKSBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	// An unknown-kid refresh must see the current document, not a cached
	// one from before the gateway rotated its key.
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", s.cfg.JWKSURL, resp.Status)
	}
	return readLimited(resp.Body, s.cfg.MaxJWKSBytes)
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

// load parses data and swaps it in if it changed. On error the current
// set stays.
func (s *keySource) load(data []byte) error {
	if cur := s.keys.Load(); cur != nil && bytes.Equal(cur.doc, data) {
		return nil
	}
	ks, skipped, err := parseJWKS(data)
	if err != nil {
		return err
	}
	for _, why := range skipped {
		s.log.Warn("backend: JWKS key skipped", "source", s.source(), "reason", why)
	}
	if len(ks.byKID) == 0 {
		return errors.New("no usable key")
	}
	s.keys.Store(ks)
	return nil
}

// reload fetches and loads the key set; on any error the current set
// stays.
func (s *keySource) reload(ctx context.Context) error {
	data, err := s.fetch(ctx)
	if err == nil {
		err = s.load(data)
	}
	if err != nil {
		return fmt.Errorf("backend: load JWKS %s: %w", s.source(), err)
	}
	return nil
}

// lookup returns the key for kid, or nil.
func (s *keySource) lookup(kid string) *verifyKey {
	if ks := s.keys.Load(); ks != nil {
		return ks.byKID[kid]
	}
	return nil
}

// refresh reloads the key set, with concurrent callers sharing one fetch.
// An unknown-kid refresh (periodic false) fetches at most once per
// MinRefreshInterval, so that a flood of made-up kids cannot hammer the
// gateway; periodic refreshes do not count against that bound, so that a
// rotation right after one is still picked up at once. A caller returns
// when the fetch ends or its ctx does.
func (s *keySource) refresh(ctx context.Context, periodic bool) {
	if s.cfg.JWKS != nil {
		return
	}
	s.mu.Lock()
	if ch := s.inflight; ch != nil {
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	if !periodic {
		now := s.now()
		if !s.lastUnknown.IsZero() && now.Sub(s.lastUnknown) < s.cfg.MinRefreshInterval {
			s.mu.Unlock()
			return
		}
		s.lastUnknown = now
	}
	ch := make(chan struct{})
	s.inflight = ch
	s.mu.Unlock()

	// The fetch runs on the Verifier's context, not the caller's: a caller
	// that gives up must not cancel the fetch others wait for.
	if err := s.reload(s.base); err != nil {
		s.log.Warn("backend: JWKS refresh failed", "error", err)
	}
	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	close(ch)
}

// run re-reads the key set every RefreshInterval until ctx ends; while no
// set has loaded yet (the gateway was down when New ran), every
// MinRefreshInterval.
func (s *keySource) run(ctx context.Context) {
	for {
		wait := s.cfg.RefreshInterval
		if s.keys.Load() == nil {
			wait = min(wait, s.cfg.MinRefreshInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			s.refresh(ctx, true)
		}
	}
}

// redirectPolicy follows at most 3 redirects, each to an https URL or to
// http on loopback.
func redirectPolicy(req *http.Request, via []*http.Request) error {
	if err := checkURL(req.URL.String()); err != nil {
		return fmt.Errorf("backend: JWKS redirect refused: %w", err)
	}
	if len(via) >= 3 {
		return errors.New("backend: JWKS fetch: too many redirects")
	}
	return nil
}
