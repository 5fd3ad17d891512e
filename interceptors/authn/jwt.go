package authn

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/policy"
)

// issuer is one configured token issuer and its current key set.
type issuer struct {
	cfg    Issuer
	algs   []jose.SignatureAlgorithm
	keys   atomic.Pointer[keySet]
	cache  *cache
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	base   context.Context // the Authenticator's lifetime

	mu       sync.Mutex    // guards last and inflight
	last     time.Time     // start of the last fetch
	inflight chan struct{} // closed when the running fetch ends
}

// verified is the connection-independent outcome of verifying one token.
type verified struct {
	p     *policy.Principal // shared and immutable
	cnf   string            // cnf.x5t#S256, or "" for an unbound token
	until int64             // exp - cacheSlack, in Unix nanoseconds: when a cache entry ends
}

// verify checks a bearer token completely: structure, issuer, pinned alg,
// key (from that issuer's set only), signature, and then the claims. The
// entry it returns names the key set that verified the token, for the
// cache.
func (a *Authenticator) verify(ctx context.Context, token string, now time.Time) (*entry, string) {
	jws, err := jose.ParseSignedCompact(token, a.algs)
	if err != nil {
		return nil, "jwt: malformed or disallowed alg: " + err.Error()
	}
	hdr := jws.Signatures[0].Header
	if _, ok := hdr.ExtraHeaders["crit"]; ok {
		return nil, "jwt: crit header not supported"
	}
	if _, ok := hdr.ExtraHeaders["b64"]; ok {
		return nil, "jwt: b64 header not supported"
	}
	// The issuer is chosen by the unverified iss; everything after this
	// uses only that issuer's configuration and keys.
	cl, why := parseClaims(jws.UnsafePayloadWithoutVerification())
	if why != "" {
		return nil, "jwt: " + why
	}
	issName, _, _ := cl.str("iss")
	is := a.issuers[issName]
	if is == nil {
		return nil, fmt.Sprintf("jwt: unknown issuer %q", issName)
	}
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	if !slices.Contains(is.algs, alg) {
		return nil, fmt.Sprintf("jwt: alg %s not allowed for issuer %q", alg, issName)
	}
	ks := is.keys.Load()
	k, why := ks.lookup(hdr.KeyID, alg)
	if k == nil && why == "" && is.cfg.JWKSURL != "" {
		is.refresh(ctx, false)
		ks = is.keys.Load()
		k, why = ks.lookup(hdr.KeyID, alg)
	}
	if k == nil {
		if why == "" {
			why = fmt.Sprintf("unknown kid %q", hdr.KeyID)
		}
		return nil, fmt.Sprintf("jwt: issuer %q: %s", issName, why)
	}
	// Verify returns the very payload decoded above, now authenticated.
	if _, err := jws.Verify(k.pub); err != nil {
		return nil, fmt.Sprintf("jwt: issuer %q: signature verification failed with kid %q", issName, k.kid)
	}
	v, why := is.claims(cl, token, now)
	if why != "" {
		return nil, fmt.Sprintf("jwt: issuer %q: %s", issName, why)
	}
	return &entry{verified: v, iss: is, keys: ks}, ""
}

// claims validates the verified claims and maps them to a principal.
func (is *issuer) claims(cl *claimSet, token string, now time.Time) (verified, string) {
	c := &is.cfg
	exp, ok, bad := numericDate(cl, "exp")
	switch {
	case bad:
		return verified{}, "exp is not a number"
	case !ok:
		return verified{}, "token has no exp"
	case now.After(exp.Add(c.Leeway)):
		return verified{}, "token expired at " + exp.UTC().Format(time.RFC3339)
	}
	nbf, hasNbf, bad := numericDate(cl, "nbf")
	if bad {
		return verified{}, "nbf is not a number"
	}
	if hasNbf && now.Add(c.Leeway).Before(nbf) {
		return verified{}, "token not valid before " + nbf.UTC().Format(time.RFC3339)
	}
	iat, hasIat, bad := numericDate(cl, "iat")
	if bad {
		return verified{}, "iat is not a number"
	}
	if hasIat && iat.After(now.Add(c.Leeway)) {
		return verified{}, "token issued in the future, at " + iat.UTC().Format(time.RFC3339)
	}
	start := now
	if hasIat {
		start = iat
	}
	if hasNbf && (!hasIat || nbf.Before(iat)) {
		start = nbf
	}
	if life := exp.Sub(start); life > c.MaxLifetime {
		return verified{}, fmt.Sprintf("token lifetime %v exceeds the maximum %v", life.Truncate(time.Second), c.MaxLifetime)
	}
	aud, ok := cl.strings("aud")
	if !ok || !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(c.Audiences, s) }) {
		return verified{}, fmt.Sprintf("audience %v not accepted", cl.value("aud"))
	}
	for _, name := range c.RequiredClaims {
		if !cl.has(name) {
			return verified{}, fmt.Sprintf("required claim %q missing", name)
		}
	}
	cnf, why := confirmation(cl.value("cnf"))
	if why != "" {
		return verified{}, why
	}
	p, why := is.principal(cl, token, exp)
	if why != "" {
		return verified{}, why
	}
	return verified{p: p, cnf: cnf, until: exp.Add(-cacheSlack).UnixNano()}, ""
}

// bearer authenticates an authorization value.
func (a *Authenticator) bearer(ctx context.Context, v string, c *conn) (*policy.Principal, string) {
	const scheme = "Bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return nil, "authorization: scheme is not Bearer"
	}
	if !a.cfg.JWT {
		return nil, "jwt: bearer tokens are not enabled on this listener"
	}
	tok := v[len(scheme):]
	if len(tok) > a.cfg.MaxTokenBytes {
		return nil, fmt.Sprintf("jwt: token of %d bytes exceeds the maximum of %d", len(tok), a.cfg.MaxTokenBytes)
	}
	if tok == "" || strings.IndexByte(tok, ' ') >= 0 {
		return nil, "jwt: malformed bearer value"
	}
	e, why := a.token(ctx, tok)
	if why != "" {
		return nil, why
	}
	return e.bind(c)
}

// token returns the verified token, from the cache when it holds a valid
// entry (not within cacheSlack of its exp by the cache clock, and verified
// by the issuer's current key set). A hit reads no clock and allocates
// nothing.
func (a *Authenticator) token(ctx context.Context, tok string) (*entry, string) {
	if e := a.cache.get(tok); e != nil {
		if a.cache.clock.unixNano() < e.until && e.keys == e.iss.keys.Load() {
			return e, ""
		}
		a.cache.remove(tok, e)
	}
	now := a.o.now()
	e, why := a.verify(ctx, tok, now)
	if why != "" {
		return nil, why
	}
	if n := now.UnixNano(); n < e.until {
		a.cache.put(tok, e, n)
	}
	return e, ""
}

// bind checks a certificate-bound token against the connection and adds
// the connection's certificate facts to the principal. Without a
// certificate, the cached principal is shared as is.
func (e *entry) bind(c *conn) (*policy.Principal, string) {
	if e.cnf != "" {
		if !c.cert {
			return nil, "jwt: certificate-bound token presented without a client certificate"
		}
		if c.certSHA256 != e.cnf {
			return nil, "jwt: certificate-bound token presented with a different client certificate"
		}
	}
	if !c.cert {
		return e.p, ""
	}
	p := *e.p
	c.stamp(&p)
	p.Bound = e.cnf != ""
	return &p, ""
}
