package assertion

import (
	"net/http"
	"slices"
	"strconv"
)

// KeyID returns the kid of the current signing key.
func (s *Signer) KeyID() string { return s.state.Load().current.kid }

// JWKS returns the public keys, the current one first and then every
// previous key not yet retired, as a JWK Set (RFC 7517) with kid, alg and
// use "sig". It holds no private material. The caller may modify the
// result. It is safe for concurrent use.
func (s *Signer) JWKS() []byte { return slices.Clone(s.state.Load().jwks) }

// ServeHTTP serves JWKS() to GET and HEAD requests with Content-Type
// application/jwk-set+json and Cache-Control "public, max-age=60"; other
// methods get 405. Mount it at JWKSPath on the admin listener. Backends
// re-fetch on an unknown kid with "Cache-Control: no-cache", so caches in
// between do not delay a rotation.
func (s *Signer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	doc := s.state.Load().jwks
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc)
	}
}
