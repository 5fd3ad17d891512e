package authn

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/policy"
)

// Config is the authentication setup of one listener. New validates it and
// copies what it needs; changing a Config after New has no effect.
type Config struct {
	// JWT enables bearer tokens ("authorization: Bearer <jwt>"). When false,
	// a presented bearer token is refused.
	JWT bool
	// APIKeys enables Portcullis API keys ("x-api-key: pcs_<id>_<secret>").
	// When false, a presented API key is refused.
	APIKeys bool
	// MTLS enables verified client certificates as a credential on their
	// own. When false, a call that presents only a certificate is refused.
	// Either way, a verified certificate sets Principal.MTLS, CertSHA256
	// and SPIFFEID and is what certificate-bound tokens are checked against.
	MTLS bool

	// Issuers are the trusted token issuers, at least one when JWT is set.
	Issuers []Issuer
	// MaxTokenBytes is the largest bearer token accepted; longer ones are
	// refused before any parsing. Default 8192.
	MaxTokenBytes int

	// RestrictedRequiresBoundToken makes every method with
	// policy.SensitivityRestricted require mTLS and a certificate-bound
	// token, whatever its own policy says. nil means true; set new(false)
	// to rely on each method's RequireMTLS and RequireBoundToken only.
	RestrictedRequiresBoundToken *bool

	// MTLSServicePrefixes are SPIFFE ID prefixes (e.g.
	// "spiffe://bank.example/ns/prod/") whose certificates authenticate a
	// policy.KindService principal. A SPIFFE ID whose path starts with
	// "/svc/" is always a service.
	MTLSServicePrefixes []string
	// MTLSDefaultKind is the Kind of every other certificate principal:
	// policy.KindUser (the default) or policy.KindService.
	MTLSDefaultKind string
}

// Issuer configures one trusted token issuer.
type Issuer struct {
	// Issuer is the exact value of the tokens' iss claim. Required, unique.
	Issuer string
	// Audiences accepted: a token's aud must contain at least one.
	// Required.
	Audiences []string
	// Algorithms the issuer signs with, pinned: a token whose alg is not
	// listed is refused. Allowed: RS256, RS384, RS512, PS256, PS384, PS512,
	// ES256, ES384, ES512, EdDSA. "none" and HMAC (HS*) are never allowed.
	// Required.
	Algorithms []string

	// JWKSFile is a local JWK Set file, re-read every RefreshInterval and
	// swapped in when its content changed. Exactly one of JWKSFile and
	// JWKSURL is required.
	JWKSFile string
	// JWKSURL is an https URL serving the JWK Set. It is fetched by New,
	// every RefreshInterval, and when a token names a kid the set lacks (at
	// most once per MinRefreshInterval).
	JWKSURL string
	// RefreshInterval is how often the key set is re-read. Default 2s for a
	// file, 5m for a URL.
	RefreshInterval time.Duration
	// MinRefreshInterval bounds unknown-kid refreshes of a JWKSURL: at most
	// one fetch per interval, however many tokens name unknown kids.
	// Default 30s.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one fetch of a JWKSURL. Default 5s.
	FetchTimeout time.Duration
	// MaxJWKSBytes caps the size of the JWK Set document. Default 1 MiB.
	MaxJWKSBytes int64

	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s;
	// a negative value means no leeway.
	Leeway time.Duration
	// MaxLifetime caps exp - iat (or exp - nbf, the earlier of the two;
	// exp - now without either). Default 24h. Tokens without exp are
	// always refused.
	MaxLifetime time.Duration
	// RequiredClaims must be present (and not null) in every token.
	RequiredClaims []string

	// SubjectClaim holds the principal id, a non-empty string. Default "sub".
	SubjectClaim string
	// RolesClaim holds roles: an array of strings or one string. Default
	// "roles".
	RolesClaim string
	// GroupsClaim holds groups, like RolesClaim. Default "groups".
	GroupsClaim string
	// TenantClaim holds the tenant, a string. Default none.
	TenantClaim string
	// KindClaim, if set, names a claim whose value ("user" or "service")
	// is the principal's Kind; any other value is refused. Default none.
	KindClaim string
	// Kind is the principal Kind when KindClaim is unset or absent from the
	// token: policy.KindUser (the default) or policy.KindService.
	Kind string
}

// allowedAlgs are the only signature algorithms an issuer may pin.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

const (
	defaultMaxTokenBytes   = 8 << 10
	defaultFileRefresh     = 2 * time.Second
	defaultURLRefresh      = 5 * time.Minute
	defaultMinRefresh      = 30 * time.Second
	defaultFetchTimeout    = 5 * time.Second
	defaultMaxJWKSBytes    = 1 << 20
	defaultLeeway          = 30 * time.Second
	defaultMaxLifetime     = 24 * time.Hour
	defaultSubjectClaim    = "sub"
	defaultRolesClaim      = "roles"
	defaultGroupsClaim     = "groups"
	defaultCertificateKind = policy.KindUser
)

// validate checks c and returns a copy with every default filled in.
func (c Config) validate() (Config, error) {
	if c.MaxTokenBytes < 0 {
		return c, errors.New("authn: config: max_token_bytes: must not be negative")
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = defaultMaxTokenBytes
	}
	if c.MTLSDefaultKind == "" {
		c.MTLSDefaultKind = defaultCertificateKind
	}
	if !isKind(c.MTLSDefaultKind) {
		return c, fmt.Errorf("authn: config: mtls_default_kind: %q is not %q or %q", c.MTLSDefaultKind, policy.KindUser, policy.KindService)
	}
	for i, p := range c.MTLSServicePrefixes {
		if !strings.HasPrefix(p, "spiffe://") {
			return c, fmt.Errorf("authn: config: mtls_service_prefixes[%d]: %q is not a spiffe:// prefix", i, p)
		}
	}
	if c.JWT && len(c.Issuers) == 0 {
		return c, errors.New("authn: config: jwt is enabled but no issuers are configured")
	}
	issuers := make([]Issuer, len(c.Issuers))
	seen := map[string]bool{}
	for i, is := range c.Issuers {
		v, err := is.validate()
		if err != nil {
			return c, fmt.Errorf("authn: config: issuers[%d] (%q): %w", i, is.Issuer, err)
		}
		if seen[v.Issuer] {
			return c, fmt.Errorf("authn: config: issuers[%d]: issuer %q configured twice", i, v.Issuer)
		}
		seen[v.Issuer] = true
		issuers[i] = v
	}
	c.Issuers = issuers
	return c, nil
}

func (is Issuer) validate() (Issuer, error) {
	if is.Issuer == "" {
		return is, errors.New("issuer: required")
	}
	if len(is.Audiences) == 0 || slices.Contains(is.Audiences, "") {
		return is, errors.New("audiences: at least one non-empty audience required")
	}
	if len(is.Algorithms) == 0 {
		return is, errors.New("algorithms: required (pin the issuer's signing algorithms)")
	}
	for _, a := range is.Algorithms {
		if !slices.Contains(allowedAlgs, jose.SignatureAlgorithm(a)) {
			return is, fmt.Errorf("algorithms: %q is not allowed (allowed: %v)", a, allowedAlgs)
		}
	}
	switch {
	case (is.JWKSFile == "") == (is.JWKSURL == ""):
		return is, errors.New("jwks_file, jwks_url: exactly one is required")
	case is.JWKSURL != "":
		u, err := url.Parse(is.JWKSURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return is, fmt.Errorf("jwks_url: %q is not an https URL", is.JWKSURL)
		}
	}
	for name, d := range map[string]time.Duration{
		"refresh_interval": is.RefreshInterval, "min_refresh_interval": is.MinRefreshInterval,
		"fetch_timeout": is.FetchTimeout, "max_lifetime": is.MaxLifetime,
	} {
		if d < 0 {
			return is, fmt.Errorf("%s: %v must not be negative", name, d)
		}
	}
	if is.MaxJWKSBytes < 0 {
		return is, errors.New("max_jwks_bytes: must not be negative")
	}
	if is.JWKSFile != "" {
		defaults(&is.RefreshInterval, defaultFileRefresh)
	} else {
		defaults(&is.RefreshInterval, defaultURLRefresh)
	}
	defaults(&is.MinRefreshInterval, defaultMinRefresh)
	defaults(&is.FetchTimeout, defaultFetchTimeout)
	defaults(&is.MaxJWKSBytes, defaultMaxJWKSBytes)
	defaults(&is.MaxLifetime, defaultMaxLifetime)
	switch {
	case is.Leeway == 0:
		is.Leeway = defaultLeeway
	case is.Leeway < 0:
		is.Leeway = 0
	}
	defaults(&is.SubjectClaim, defaultSubjectClaim)
	defaults(&is.RolesClaim, defaultRolesClaim)
	defaults(&is.GroupsClaim, defaultGroupsClaim)
	defaults(&is.Kind, policy.KindUser)
	if !isKind(is.Kind) {
		return is, fmt.Errorf("kind: %q is not %q or %q", is.Kind, policy.KindUser, policy.KindService)
	}
	return is, nil
}

// defaults sets *v to def when it is the zero value.
func defaults[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func isKind(k string) bool { return k == policy.KindUser || k == policy.KindService }
