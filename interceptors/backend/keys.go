package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/interceptors/internal/jwks"
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

// jwksPolicy is what a published key may be: Ed25519 or P-256, for EdDSA
// or ES256, under a kid of its own.
var jwksPolicy = &jwks.Policy{
	Kty:        []string{"OKP", "EC"},
	Algs:       []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256},
	Curves:     []string{"P-256"},
	RequireKID: true,
	UniqueKID:  true,
}

// parseJWKS parses a JWK Set. Keys that cannot verify assertions (no kid,
// a duplicate kid, symmetric, private, encryption-only, another curve or
// algorithm, malformed) are skipped and described in skipped; only a
// document that is not a JWK Set at all is an error.
func parseJWKS(data []byte) (ks *keySet, skipped []string, err error) {
	keys, skipped, err := jwks.Parse(data, jwksPolicy)
	if err != nil {
		return nil, nil, err
	}
	ks = &keySet{byKID: make(map[string]*verifyKey, len(keys)), doc: data}
	for _, k := range keys {
		ks.byKID[k.KID] = &verifyKey{alg: k.Alg, pub: k.Pub}
	}
	return ks, skipped, nil
}

// fits reports whether k may verify a signature made with alg.
func (k *verifyKey) fits(alg jose.SignatureAlgorithm) bool {
	return jwks.Fits(k.pub, k.alg, alg)
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
	data, err := jwks.Fetch(ctx, jwks.Source{
		File:     s.cfg.JWKSFile,
		URL:      s.cfg.JWKSURL,
		MaxBytes: s.cfg.MaxJWKSBytes,
		Timeout:  s.cfg.FetchTimeout,
		Client:   s.client,
	})
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
