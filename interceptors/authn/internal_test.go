package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/interceptors/authn/authntest"
)

func TestCommonName(t *testing.T) {
	for _, tc := range []struct{ dn, want string }{
		{"CN=alice,O=Bank", "alice"},
		{"O=Bank,CN=alice", "alice"},
		{`CN=Smith\, John,O=Bank`, "Smith, John"},
		{`CN=a\+b\\c\;d,O=x`, `a+b\c;d`},
		{`CN=\#hash\ `, "#hash "},
		{"SERIALNUMBER=1+CN=multi,O=x", "multi"},
		{"O=Bank,OU=CN=fake", ""},
		{"", ""},
		{"O=Bank", ""},
	} {
		if got := commonName(tc.dn); got != tc.want {
			t.Errorf("commonName(%q) = %q, want %q", tc.dn, got, tc.want)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	pub := func(key any, kid, alg, use string) json.RawMessage {
		b, err := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use}.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%s) = %v, want nil", kid, err)
		}
		return b
	}
	keys := []json.RawMessage{
		pub(&ec.PublicKey, "good", "ES256", "sig"),
		pub(&ec.PublicKey, "no-alg", "", ""),
		pub(ec, "private", "ES256", "sig"),
		pub(&ec.PublicKey, "enc", "ES256", "enc"),
		pub(&ec.PublicKey, "hs", "HS256", ""),
		pub(&weak.PublicKey, "weak", "RS256", ""),
		json.RawMessage(`{"kty":"oct","k":"c2VjcmV0","kid":"oct"}`),
		json.RawMessage(`{"kty":"EC","crv":"P-256","x":"bad","y":"bad","kid":"broken"}`),
		json.RawMessage(`"not an object"`),
	}
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	ks, skipped, err := parseJWKS(doc)
	if err != nil {
		t.Fatalf("parseJWKS() = %v, want nil", err)
	}
	if ks.n != 2 || ks.byKID["good"] == nil || ks.byKID["no-alg"] == nil {
		t.Errorf("parseJWKS() kept %d keys %v, want good and no-alg", ks.n, ks.byKID)
	}
	want := []string{"private key material", `use "enc"`, `alg "HS256" refused`, "1024 bits", `kty "oct"`, "keys[7]", "not a JSON object"}
	all := strings.Join(skipped, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("parseJWKS() skipped %q, want a reason containing %q", all, w)
		}
	}
	for _, bad := range []string{`{}`, `[]`, `{"keys": 1}`, `nope`} {
		if _, _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("parseJWKS(%s) = nil, want an error", bad)
		}
	}
	if k, why := ks.lookup("good", jose.RS256); k != nil || !strings.Contains(why, "does not fit") {
		t.Errorf("lookup(good, RS256) = %v, %q, want nil, does not fit", k, why)
	}
	if k, why := ks.lookup("", jose.ES256); k != nil || !strings.Contains(why, "no kid") {
		t.Errorf("lookup(no kid, 2 keys) = %v, %q, want nil, no kid", k, why)
	}
}

// newBenchAuth returns an Authenticator for one ES256 issuer, and a token.
func newBenchAuth(tb testing.TB, opts ...Option) (*Authenticator, *authntest.Issuer, string) {
	tb.Helper()
	iss := authntest.NewIssuer("https://bench.test", "ES256")
	path := filepath.Join(tb.TempDir(), "jwks.json")
	if err := iss.WriteJWKS(path); err != nil {
		tb.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	a, err := New(Config{JWT: true, Issuers: []Issuer{{
		Issuer: iss.Issuer(), Audiences: []string{"bank"}, Algorithms: []string{"ES256"}, JWKSFile: path, RefreshInterval: time.Hour,
	}}}, nil, opts...)
	if err != nil {
		tb.Fatalf("New() = %v, want nil", err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	cl := iss.Claims("alice", "bank", time.Hour)
	cl["roles"] = []string{"teller"}
	cl["scope"] = "bank.accounts.read bank.transfers.create"
	return a, iss, iss.Sign(cl)
}

func TestCacheBound(t *testing.T) {
	for _, size := range []int{1, 3, 2000} {
		a, iss, _ := newBenchAuth(t, WithCacheSize(size))
		max := size
		if size >= 1024 {
			max = (size + 15) / 16 * 16
		}
		for i := range min(3*size, 2500) {
			tok := iss.Sign(iss.Claims("user"+string(rune('a'+i%26)), "bank", time.Hour))
			if _, why := a.token(context.Background(), tok); why != "" {
				t.Fatalf("token() = %q, want accepted", why)
			}
			if n := a.cache.len(); n > max {
				t.Fatalf("cache size %d after %d tokens, want at most %d", n, i+1, max)
			}
		}
	}
	a, _, tok := newBenchAuth(t, WithCacheSize(0))
	if _, why := a.token(context.Background(), tok); why != "" || a.cache.len() != 0 {
		t.Errorf("token() with WithCacheSize(0) = %q, cache size %d, want accepted and 0", why, a.cache.len())
	}
}

// TestCacheDroppedOnKeyChange checks that a key set change empties the
// issuer's cache entries.
func TestCacheDroppedOnKeyChange(t *testing.T) {
	a, iss, tok := newBenchAuth(t)
	if _, why := a.token(context.Background(), tok); why != "" || a.cache.len() != 1 {
		t.Fatalf("token() = %q, cache size %d, want accepted and 1", why, a.cache.len())
	}
	iss.Rotate()
	is := a.issuers[iss.Issuer()]
	if err := iss.WriteJWKS(is.cfg.JWKSFile); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	if err := is.reload(context.Background()); err != nil {
		t.Fatalf("reload() = %v, want nil", err)
	}
	if n := a.cache.len(); n != 0 {
		t.Errorf("cache size after a key set change = %d, want 0", n)
	}
	// An unchanged file keeps the cache.
	if _, why := a.token(context.Background(), tok); why != "" {
		t.Fatalf("token() = %q, want accepted", why)
	}
	if err := is.reload(context.Background()); err != nil || a.cache.len() != 1 {
		t.Errorf("reload(unchanged) = %v, cache size %d, want nil, 1", err, a.cache.len())
	}
}
