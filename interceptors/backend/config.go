package backend

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Config is what a backend trusts: the gateway's id and where its public
// keys are published. New validates it and copies what it needs; changing
// a Config after New has no effect.
type Config struct {
	// Issuer is the gateway's id, the exact iss of its assertions.
	// Required.
	Issuer string
	// Audiences, when set, are the aud values accepted instead of the
	// default: the service of the called method (ServiceName), which is
	// what the gateway signs for unless its route configures an audience.
	Audiences []string

	// Exactly one key source is required.
	//
	// JWKSURL is the gateway's JWK Set on its admin listener, e.g.
	// "https://portcullis-admin:9443/.well-known/portcullis-jwks.json". It
	// must be https, or http to a loopback address. It is fetched by New,
	// every RefreshInterval, and when an assertion names a kid the set
	// lacks (at most once per MinRefreshInterval), so a gateway key
	// rotation is picked up at once.
	JWKSURL string
	// JWKSFile is a local JWK Set file, re-read every RefreshInterval and
	// on an unknown kid (at most once per MinRefreshInterval).
	JWKSFile string
	// JWKS is a static JWK Set document. It never changes.
	JWKS []byte

	// Algorithms accepted, pinned: "EdDSA" and "ES256" (the default is
	// both). "none", HMAC and every other algorithm are always refused.
	Algorithms []string
	// Leeway is the clock skew allowed on exp and iat. Default 5s; a
	// negative value means none.
	Leeway time.Duration
	// MaxLifetime caps exp - iat. Default 5m, at most 1h: an assertion is
	// meant to live seconds.
	MaxLifetime time.Duration
	// MaxAssertionBytes is the largest assertion read; longer ones are
	// refused before parsing. Default 8192.
	MaxAssertionBytes int

	// RefreshInterval is how often a JWKSURL or JWKSFile is re-read.
	// Default 5m for a URL, 2s for a file.
	RefreshInterval time.Duration
	// MinRefreshInterval bounds unknown-kid refreshes: at most one fetch
	// per interval however many assertions name unknown kids (anyone can
	// send those to a backend). Periodic refreshes do not count against
	// it. Default 10s.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one fetch of a JWKSURL. Default 5s.
	FetchTimeout time.Duration
	// MaxJWKSBytes caps the JWK Set document. Default 256 KiB.
	MaxJWKSBytes int64
}

// allowedAlgs are the only algorithms an assertion may be signed with.
var allowedAlgs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

const (
	defaultLeeway            = 5 * time.Second
	defaultMaxLifetime       = 5 * time.Minute
	maxMaxLifetime           = time.Hour
	defaultMaxAssertionBytes = 8 << 10
	defaultURLRefresh        = 5 * time.Minute
	defaultFileRefresh       = 2 * time.Second
	defaultMinRefresh        = 10 * time.Second
	defaultFetchTimeout      = 5 * time.Second
	defaultMaxJWKSBytes      = 256 << 10
)

// validate checks c and returns a copy with every default filled in.
func (c Config) validate() (Config, error) {
	if c.Issuer == "" {
		return c, errors.New("backend: config: issuer: required (the gateway's id)")
	}
	if slices.Contains(c.Audiences, "") {
		return c, errors.New("backend: config: audiences: empty audience")
	}
	c.Audiences = slices.Clone(c.Audiences)
	n := 0
	for _, set := range []bool{c.JWKSURL != "", c.JWKSFile != "", c.JWKS != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return c, errors.New("backend: config: jwks_url, jwks_file, jwks: exactly one is required")
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL); err != nil {
			return c, fmt.Errorf("backend: config: jwks_url: %w", err)
		}
	}
	c.JWKS = slices.Clone(c.JWKS)
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{string(jose.EdDSA), string(jose.ES256)}
	}
	c.Algorithms = slices.Clone(c.Algorithms)
	for _, a := range c.Algorithms {
		if !slices.Contains(allowedAlgs, jose.SignatureAlgorithm(a)) {
			return c, fmt.Errorf("backend: config: algorithms: %q is not allowed (allowed: %v)", a, allowedAlgs)
		}
	}
	for name, d := range map[string]time.Duration{
		"max_lifetime": c.MaxLifetime, "refresh_interval": c.RefreshInterval,
		"min_refresh_interval": c.MinRefreshInterval, "fetch_timeout": c.FetchTimeout,
	} {
		if d < 0 {
			return c, fmt.Errorf("backend: config: %s: %v must not be negative", name, d)
		}
	}
	if c.MaxLifetime > maxMaxLifetime {
		return c, fmt.Errorf("backend: config: max_lifetime: %v exceeds %v", c.MaxLifetime, maxMaxLifetime)
	}
	if c.MaxAssertionBytes < 0 || c.MaxJWKSBytes < 0 {
		return c, errors.New("backend: config: max_assertion_bytes, max_jwks_bytes: must not be negative")
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = defaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	}
	defaults(&c.MaxLifetime, defaultMaxLifetime)
	defaults(&c.MaxAssertionBytes, defaultMaxAssertionBytes)
	if c.JWKSFile != "" {
		defaults(&c.RefreshInterval, defaultFileRefresh)
	} else {
		defaults(&c.RefreshInterval, defaultURLRefresh)
	}
	defaults(&c.MinRefreshInterval, defaultMinRefresh)
	defaults(&c.FetchTimeout, defaultFetchTimeout)
	defaults(&c.MaxJWKSBytes, defaultMaxJWKSBytes)
	return c, nil
}

// checkURL accepts https URLs, and http URLs whose host is a loopback
// address (a sidecar, or a test): keys fetched in clear text over a network
// could be replaced by anyone on the path.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q is neither https nor http to a loopback address", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaults sets *v to def when it is the zero value.
func defaults[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
