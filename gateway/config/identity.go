package config

import (
	"os"
	"strings"
	"time"
)

// Identity configures authentication for the gRPC and HTTP listeners.
// Without an identity block the gateway refuses every protected method
// with Unauthenticated (deny by default).
type Identity struct {
	// JWT (jwt) enables bearer tokens ("authorization: Bearer <jwt>").
	JWT bool `yaml:"jwt"`
	// APIKeys (api_keys) enables API keys ("x-api-key: pcs_<id>_<secret>"),
	// whose hashes live in the policy bundle.
	APIKeys bool `yaml:"api_keys"`
	// MTLS (mtls) lets a verified client certificate authenticate on its
	// own (for methods that allow CREDENTIAL_KIND_MTLS).
	MTLS bool `yaml:"mtls"`
	// Issuers (issuers) are the trusted JWT issuers; at least one with jwt.
	Issuers []Issuer `yaml:"issuers"`
	// MaxTokenBytes (max_token_bytes) caps a bearer token. Default 8192.
	MaxTokenBytes int64 `yaml:"max_token_bytes"`
	// AllowUnboundRestricted (allow_unbound_restricted: true) stops
	// SENSITIVITY_RESTRICTED methods from demanding mTLS with a
	// certificate-bound token; each method's own requirements still apply.
	// Default false.
	AllowUnboundRestricted bool `yaml:"allow_unbound_restricted"`
	// MTLSServicePrefixes (mtls_service_prefixes) are SPIFFE ID prefixes
	// whose certificates are service principals ("/svc/" paths always are).
	MTLSServicePrefixes []string `yaml:"mtls_service_prefixes"`
	// JWKSClient (jwks_client) is how jwks_url endpoints are fetched: the
	// CAs to trust and a client certificate for endpoints behind mTLS.
	JWKSClient *HTTPSClient `yaml:"jwks_client"`
}

// Issuer is one trusted JWT issuer.
type Issuer struct {
	// Issuer (issuer) is the exact iss claim. Required.
	Issuer string `yaml:"issuer"`
	// Audiences (audiences) accepted; a token's aud must contain one.
	Audiences []string `yaml:"audiences"`
	// Algorithms (algorithms) pinned for this issuer, e.g. [ES256].
	// Never none or HS*.
	Algorithms []string `yaml:"algorithms"`
	// JWKSFile (jwks_file) or JWKSURL (jwks_url, https) holds the keys.
	JWKSFile string `yaml:"jwks_file"`
	JWKSURL  string `yaml:"jwks_url"`
	// RefreshInterval (refresh_interval) re-reads the keys. Default 2s
	// for a file, 5m for a URL.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// MinRefreshInterval (min_refresh_interval) bounds refreshes on an
	// unknown kid. Default 30s.
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval"`
	// Leeway (leeway) for exp/nbf/iat. Default 30s.
	Leeway time.Duration `yaml:"leeway"`
	// MaxLifetime (max_lifetime) caps exp - iat. Default 24h.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// RequiredClaims (required_claims) must be present in every token.
	RequiredClaims []string `yaml:"required_claims"`
	// Claim mapping: subject_claim (default sub), roles_claim (default
	// roles), groups_claim (default groups), tenant_claim (default none),
	// kind_claim (default none) and kind (user or service, default user).
	SubjectClaim string `yaml:"subject_claim"`
	RolesClaim   string `yaml:"roles_claim"`
	GroupsClaim  string `yaml:"groups_claim"`
	TenantClaim  string `yaml:"tenant_claim"`
	KindClaim    string `yaml:"kind_claim"`
	Kind         string `yaml:"kind"`
}

// Grant gives permissions, internal ones included, to one service
// identity (a principal id or SPIFFE ID). Grants are the operator's: a
// policy bundle can never grant an internal permission.
type Grant struct {
	// Subject (subject) is a principal id or spiffe:// ID.
	Subject string `yaml:"subject"`
	// Permissions (permissions) granted.
	Permissions []string `yaml:"permissions"`
}

func (v *validator) identity(c *Config) {
	id := c.Identity
	if id == nil {
		return
	}
	if !id.JWT && !id.APIKeys && !id.MTLS {
		v.add("identity", "enable at least one of jwt, api_keys or mtls")
	}
	if id.JWT && len(id.Issuers) == 0 {
		v.add("identity.issuers", "jwt is enabled but no issuer is configured")
	}
	if id.APIKeys && c.Bundle == "" && c.BundleDir == "" && c.BundleURL == "" {
		v.add("identity.api_keys", "API keys live in the policy bundle: set bundle")
	}
	if id.MaxTokenBytes < 0 {
		v.add("identity.max_token_bytes", "must not be negative")
	}
	for i, is := range id.Issuers {
		path := index("identity.issuers", i)
		if is.Issuer == "" {
			v.add(path+".issuer", "required")
		}
		if len(is.Audiences) == 0 {
			v.add(path+".audiences", "required: list the audiences this gateway accepts")
		}
		if len(is.Algorithms) == 0 {
			v.add(path+".algorithms", "required: pin the issuer's signing algorithms, e.g. [ES256]")
		}
		switch {
		case (is.JWKSFile == "") == (is.JWKSURL == ""):
			v.add(path, "set exactly one of jwks_file and jwks_url")
		case is.JWKSFile != "":
			v.file(path+".jwks_file", is.JWKSFile, true)
		case !strings.HasPrefix(is.JWKSURL, "https://"):
			v.add(path+".jwks_url", "must be an https:// URL")
		}
	}
	v.bundleSource(c)
	for i, g := range c.Grants {
		path := index("grants", i)
		if g.Subject == "" {
			v.add(path+".subject", "required")
		}
		if len(g.Permissions) == 0 {
			v.add(path+".permissions", "required")
		}
	}
}

func (v *validator) bundleSource(c *Config) {
	n := 0
	for _, s := range []string{c.Bundle, c.BundleDir, c.BundleURL} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		v.add("bundle", "set only one of bundle, bundle_dir and bundle_url")
	}
	if c.Bundle != "" {
		v.file("bundle", c.Bundle, true)
	}
	if c.BundleDir != "" {
		if st, err := os.Stat(c.BundleDir); err != nil || !st.IsDir() {
			v.add("bundle_dir", "%q is not a directory", c.BundleDir)
		}
	}
	if c.BundleURL != "" && !strings.HasPrefix(c.BundleURL, "https://") {
		v.add("bundle_url", "must be an https:// URL")
	}
	if c.BundlePollInterval < 0 {
		v.add("bundle_poll_interval", "must not be negative")
	}
	if c.BundleHistory < 0 {
		v.add("bundle_history", "must not be negative")
	}
	for i, k := range c.BundleTrustedKeys {
		v.file(index("bundle_trusted_keys", i), k, true)
	}
}
