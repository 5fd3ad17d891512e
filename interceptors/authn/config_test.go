package authn_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/authn"
)

func TestNewErrors(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	garbage, octOnly := filepath.Join(dir, "garbage.json"), filepath.Join(dir, "oct.json")
	writeFile(t, garbage, []byte("not json"))
	writeFile(t, octOnly, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}`))
	issuer := func(edit func(*authn.Issuer)) authn.Config {
		cfg := f.cfg
		cfg.Issuers = []authn.Issuer{cfg.Issuers[0]}
		cfg.APIKeys = false
		edit(&cfg.Issuers[0])
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  authn.Config
		keys authn.KeySource
		opts []authn.Option
		want string
	}{
		{name: "jwt without issuers", cfg: authn.Config{JWT: true}, want: "no issuers"},
		{name: "no issuer", cfg: issuer(func(is *authn.Issuer) { is.Issuer = "" }), want: "issuer: required"},
		{name: "no audiences", cfg: issuer(func(is *authn.Issuer) { is.Audiences = nil }), want: "audiences"},
		{name: "empty audience", cfg: issuer(func(is *authn.Issuer) { is.Audiences = []string{""} }), want: "audiences"},
		{name: "no algorithms", cfg: issuer(func(is *authn.Issuer) { is.Algorithms = nil }), want: "algorithms: required"},
		{name: "HS256", cfg: issuer(func(is *authn.Issuer) { is.Algorithms = []string{"ES256", "HS256"} }), want: `"HS256" is not allowed`},
		{name: "none", cfg: issuer(func(is *authn.Issuer) { is.Algorithms = []string{"none"} }), want: `"none" is not allowed`},
		{name: "file and url", cfg: issuer(func(is *authn.Issuer) { is.JWKSURL = "https://idp.test/jwks" }), want: "exactly one"},
		{name: "neither file nor url", cfg: issuer(func(is *authn.Issuer) { is.JWKSFile = "" }), want: "exactly one"},
		{name: "http url", cfg: issuer(func(is *authn.Issuer) { is.JWKSFile, is.JWKSURL = "", "http://idp.test/jwks" }), want: "not an https URL"},
		{name: "negative leeway is fine, negative lifetime is not", cfg: issuer(func(is *authn.Issuer) { is.Leeway, is.MaxLifetime = -1, -time.Hour }), want: "max_lifetime"},
		{name: "negative size", cfg: issuer(func(is *authn.Issuer) { is.MaxJWKSBytes = -1 }), want: "max_jwks_bytes"},
		{name: "bad kind", cfg: issuer(func(is *authn.Issuer) { is.Kind = "robot" }), want: "kind"},
		{name: "duplicate issuer", cfg: func() authn.Config {
			cfg := f.cfg
			cfg.Issuers = []authn.Issuer{cfg.Issuers[0], cfg.Issuers[0]}
			return cfg
		}(), want: "configured twice"},
		{name: "missing JWKS file", cfg: issuer(func(is *authn.Issuer) { is.JWKSFile = filepath.Join(dir, "nope.json") }), want: "nope.json"},
		{name: "garbage JWKS file", cfg: issuer(func(is *authn.Issuer) { is.JWKSFile = garbage }), want: "not a JWK Set"},
		{name: "JWKS file without usable keys", cfg: issuer(func(is *authn.Issuer) { is.JWKSFile = octOnly }), want: "no usable key"},
		{name: "bad certificate kind", cfg: authn.Config{MTLS: true, MTLSDefaultKind: "robot"}, want: "mtls_default_kind"},
		{name: "bad service prefix", cfg: authn.Config{MTLS: true, MTLSServicePrefixes: []string{"bank.test/svc"}}, want: "mtls_service_prefixes[0]"},
		{name: "negative token size", cfg: authn.Config{MaxTokenBytes: -1}, want: "max_token_bytes"},
		{name: "api keys without source", cfg: authn.Config{APIKeys: true}, want: "KeySource is nil"},
		{name: "negative cache size", cfg: authn.Config{}, opts: []authn.Option{authn.WithCacheSize(-1)}, want: "WithCacheSize(-1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := authn.New(tc.cfg, tc.keys, tc.opts...)
			if err == nil {
				a.Close()
				t.Fatalf("authn.New() = nil, want an error containing %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "authn: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("authn.New() = %q, want an error starting with %q and containing %q", err, "authn: ", tc.want)
			}
		})
	}
}

// TestNewDisabledJWT checks that issuers are not loaded when JWT is off.
func TestNewDisabledJWT(t *testing.T) {
	cfg := authn.Config{Issuers: []authn.Issuer{{
		Issuer: "https://idp.test", Audiences: []string{"a"}, Algorithms: []string{"ES256"}, JWKSFile: "/nonexistent",
	}}}
	a, err := authn.New(cfg, nil)
	if err != nil {
		t.Fatalf("authn.New(JWT off) = %v, want nil", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}
