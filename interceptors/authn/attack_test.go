package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

// rawSign signs payload with go-jose directly, for tokens authntest will
// not make.
func rawSign(t *testing.T, alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("jose.NewSigner(%s) = %v, want nil", alg, err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("Sign() = %v, want nil", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("CompactSerialize() = %v, want nil", err)
	}
	return tok
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v) = %v, want nil", v, err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("os.WriteFile(%q) = %v, want nil", path, err)
	}
}

// TestAttacks presents hostile credentials. Each must be refused with the
// fixed message, and the recorded reason must say why.
func TestAttacks(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	now := time.Now()

	// An RS256 issuer, whose public key an attacker uses as an HMAC secret.
	rsaIss := authntest.NewIssuer("https://rsa.test", "RS256")
	rsaPath := filepath.Join(dir, "rsa.json")
	if err := rsaIss.WriteJWKS(rsaPath); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	der, err := x509.MarshalPKIXPublicKey(rsaIss.PublicKey())
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey() = %v, want nil", err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	// An issuer pinned to ES256 and RS256 whose set holds one EC key, and
	// one whose set also holds a symmetric key that claims HS256.
	mixed := authntest.NewIssuer("https://mixed.test", "ES256")
	mixedPath := filepath.Join(dir, "mixed.json")
	if err := mixed.WriteJWKS(mixedPath); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	hmacSecret := []byte("0123456789abcdef0123456789abcdef")
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(mixed.JWKS(), &set); err != nil {
		t.Fatalf("json.Unmarshal(JWKS) = %v, want nil", err)
	}
	set.Keys = append(set.Keys, mustJSON(t, map[string]string{
		"kty": "oct", "kid": "hmac", "alg": "HS256", "k": base64.RawURLEncoding.EncodeToString(hmacSecret),
	}))
	hmacPath := filepath.Join(dir, "hmac.json")
	writeFile(t, hmacPath, mustJSON(t, set))

	cfg := f.cfg
	cfg.Issuers = append(cfg.Issuers,
		authn.Issuer{Issuer: "https://rsa.test", Audiences: []string{audience}, Algorithms: []string{"RS256"}, JWKSFile: rsaPath},
		authn.Issuer{Issuer: "https://mixed.test", Audiences: []string{audience}, Algorithms: []string{"ES256", "RS256"}, JWKSFile: mixedPath},
		authn.Issuer{Issuer: "https://hmac.test", Audiences: []string{audience}, Algorithms: []string{"ES256"}, JWKSFile: hmacPath},
	)
	cfg.Issuers[1].RequiredClaims = []string{"jti"}
	a := newAuth(t, cfg, f.source())

	attackerEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey() = %v, want nil", err)
	}
	attackerRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa.GenerateKey() = %v, want nil", err)
	}
	claimsOf := func(iss string, edits map[string]any) map[string]any {
		cl := f.idp.Claims("alice", audience, time.Hour)
		cl["iss"] = iss
		for k, v := range edits {
			if v == nil {
				delete(cl, k)
			} else {
				cl[k] = v
			}
		}
		return cl
	}
	b64 := func(v any) string { return base64.RawURLEncoding.EncodeToString(mustJSON(t, v)) }
	valid := f.token(nil)
	parts := strings.Split(valid, ".")
	bound := f.token(map[string]any{"cnf": authntest.CNF(f.alice.Leaf)})
	aliceSum := authntest.Thumbprint(f.alice.Leaf)
	_, goodSecret, _ := strings.Cut(strings.TrimPrefix(f.apiKey["good"], policy.APIKeyPrefix), "_")
	unknownKey, _, _, err := policy.NewAPIKey()
	if err != nil {
		t.Fatalf("policy.NewAPIKey() = %v, want nil", err)
	}
	far := tlsPeer("192.0.2.9:5000", nil, false)

	runCases(t, a, []testCase{
		// Algorithms.
		{name: "alg none", m: anyCred, md: bearer(b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."), reason: "disallowed alg"},
		{name: "alg none with signature", m: anyCred, md: bearer(b64(map[string]string{"alg": "none"}) + "." + parts[1] + "." + parts[2]), reason: "disallowed alg"},
		{name: "HS256 with the RSA public key as secret", m: anyCred,
			md: bearer(authntest.SignWith("HS256", rsaIss.KeyID(), rsaPEM, claimsOf("https://rsa.test", nil))), reason: "disallowed alg"},
		{name: "HS256 with a JWK that claims HS256", m: anyCred,
			md: bearer(authntest.SignWith("HS256", "hmac", hmacSecret, claimsOf("https://hmac.test", nil))), reason: "disallowed alg"},
		{name: "alg not pinned for the issuer", m: anyCred,
			md: bearer(authntest.SignWith("RS256", f.idp.KeyID(), attackerRSA, claimsOf(idpName, nil))), reason: "alg RS256 not allowed"},
		{name: "key type does not fit alg", m: anyCred,
			md: bearer(authntest.SignWith("RS256", mixed.KeyID(), attackerRSA, claimsOf("https://mixed.test", nil))), reason: "does not fit alg RS256"},
		{name: "crit header", m: anyCred,
			md:     bearer(rawSign(t, jose.ES256, attackerEC, (&jose.SignerOptions{}).WithHeader("kid", f.idp.KeyID()).WithCritical("exp"), mustJSON(t, claimsOf(idpName, nil)))),
			reason: "crit header"},
		// Keys.
		{name: "unknown kid", m: anyCred, md: bearer(sign(authntest.NewIssuer(idpName, "ES256"), "alice", nil)), reason: "unknown kid"},
		{name: "kid of another issuer's key", m: anyCred, md: bearer(f.third.Sign(claimsOf(idpName, nil))), reason: "unknown kid"},
		{name: "embedded jwk", m: anyCred,
			md: bearer(rawSign(t, jose.ES256, attackerEC, &jose.SignerOptions{EmbedJWK: true}, mustJSON(t, claimsOf(idpName, nil)))), reason: "signature verification failed"},
		{name: "forged signature", m: anyCred, md: bearer(parts[0] + "." + parts[1] + "." + strings.Split(f.token(nil), ".")[2]), reason: "signature verification failed"},
		{name: "tampered claims", m: anyCred, md: bearer(parts[0] + "." + b64(claimsOf(idpName, map[string]any{"sub": "root"})) + "." + parts[2]), reason: "signature verification failed"},
		{name: "JSON serialization", m: anyCred, md: bearer(string(mustJSON(t, map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]}))), reason: "malformed"},
		// Claims.
		{name: "expired", m: anyCred, md: bearer(f.token(map[string]any{"iat": now.Add(-time.Hour).Unix(), "nbf": nil, "exp": now.Add(-2 * time.Minute).Unix()})), reason: "token expired"},
		{name: "not yet valid", m: anyCred, md: bearer(f.token(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})), reason: "not valid before"},
		{name: "issued in the future", m: anyCred, md: bearer(f.token(map[string]any{"iat": now.Add(5 * time.Minute).Unix(), "nbf": nil})), reason: "issued in the future"},
		{name: "wrong issuer", m: anyCred, md: bearer(f.idp.Sign(claimsOf("https://evil.test", nil))), reason: `unknown issuer "https://evil.test"`},
		{name: "no issuer", m: anyCred, md: bearer(f.token(map[string]any{"iss": nil})), reason: `unknown issuer ""`},
		{name: "wrong audience", m: anyCred, md: bearer(f.token(map[string]any{"aud": "payments"})), reason: "audience"},
		{name: "no audience", m: anyCred, md: bearer(f.token(map[string]any{"aud": nil})), reason: "audience"},
		{name: "past max lifetime", m: anyCred, md: bearer(f.token(map[string]any{"exp": now.Add(25 * time.Hour).Unix()})), reason: "exceeds the maximum"},
		{name: "past max lifetime by nbf", m: anyCred, md: bearer(f.token(map[string]any{"iat": nil, "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(23 * time.Hour).Unix()})), reason: "exceeds the maximum"},
		{name: "past max lifetime without iat and nbf", m: anyCred, md: bearer(f.token(map[string]any{"iat": nil, "nbf": nil, "exp": now.Add(25 * time.Hour).Unix()})), reason: "exceeds the maximum"},
		{name: "missing exp", m: anyCred, md: bearer(f.token(map[string]any{"exp": nil})), reason: "no exp"},
		{name: "exp not a number", m: anyCred, md: bearer(f.token(map[string]any{"exp": "tomorrow"})), reason: "exp is not a number"},
		{name: "missing required claim", m: anyCred, md: bearer(sign(f.third, "carol", map[string]any{"jti": nil})), reason: `required claim "jti" missing`},
		{name: "missing subject", m: anyCred, md: bearer(f.token(map[string]any{"sub": nil})), reason: `subject claim "sub"`},
		{name: "bad kind", m: anyCred, md: bearer(f.token(map[string]any{"kind": "admin"})), reason: `kind claim "kind"`},
		{name: "bad roles", m: anyCred, md: bearer(f.token(map[string]any{"roles": 7})), reason: `roles claim "roles"`},
		{name: "oversized token", m: anyCred, md: bearer(f.token(map[string]any{"pad": strings.Repeat("a", 8<<10)})), reason: "exceeds the maximum of 8192"},
		// Where and how the token is sent.
		{name: "x-authorization", m: anyCred, md: []string{"x-authorization", "Bearer " + valid}, reason: "no credentials"},
		{name: "basic scheme", m: anyCred, md: []string{"authorization", "Basic YWxpY2U6c2VjcmV0"}, reason: "scheme is not Bearer"},
		{name: "bare token", m: anyCred, md: []string{"authorization", valid}, reason: "scheme is not Bearer"},
		{name: "empty bearer", m: anyCred, md: []string{"authorization", "Bearer "}, reason: "malformed bearer"},
		{name: "two tokens in one value", m: anyCred, md: []string{"authorization", "Bearer " + valid + " " + valid}, reason: "malformed bearer"},
		// Certificate-bound tokens.
		{name: "stolen bound token without certificate", m: anyCred, md: bearer(bound), reason: "without a client certificate"},
		{name: "stolen bound token with another certificate", m: anyCred, p: tlsPeer("192.0.2.1:1", &f.bob, true), md: bearer(bound), reason: "different client certificate"},
		{name: "stolen bound token with an unverified copy of the certificate", m: anyCred, p: tlsPeer("192.0.2.1:1", &f.alice, false), md: bearer(bound), reason: "without a client certificate"},
		{name: "stolen bound token with spoofed thumbprint", m: anyCred, md: join(bearer(bound), []string{policy.KeyClientCertSHA256, aliceSum}), reason: "without a client certificate"},
		{name: "cnf with jkt", m: anyCred, md: bearer(f.token(map[string]any{"cnf": map[string]string{"jkt": "abc"}})), reason: `cnf confirmation method "jkt"`},
		{name: "cnf not an object", m: anyCred, md: bearer(f.token(map[string]any{"cnf": "x"})), reason: "cnf claim is not an object"},
		// API keys.
		{name: "revoked api key", m: anyCred, md: apiKeyMD(f.apiKey["disabled"]), reason: "disabled"},
		{name: "expired api key", m: anyCred, md: apiKeyMD(f.apiKey["expired"]), reason: "expired"},
		{name: "wrong secret", m: anyCred, md: apiKeyMD(policy.APIKeyPrefix + idOf(f.apiKey["disabled"]) + "_" + goodSecret), reason: "wrong secret"},
		{name: "unknown api key", m: anyCred, md: apiKeyMD(unknownKey), reason: "unknown"},
		{name: "malformed api key", m: anyCred, md: apiKeyMD("pcs_short_x"), reason: "malformed"},
		{name: "api key from a disallowed address", m: anyCred, p: far, md: apiKeyMD(f.apiKey["office"]), reason: "client address 192.0.2.9 not in"},
		{name: "api key from an unknown address", m: anyCred, md: apiKeyMD(f.apiKey["office"]), reason: "client address is unknown"},
		{name: "api key with spoofed client address", m: anyCred, p: far, md: join(apiKeyMD(f.apiKey["office"]), []string{policy.KeyClientAddr, "10.0.0.1:1"}), reason: "not in"},
		// Spoofed internal metadata, not trusted by default.
		{name: "spoofed certificate metadata", m: mtlsOnly, md: []string{
			policy.KeyClientCertSHA256, aliceSum, policy.KeyClientSPIFFE, "spiffe://bank.test/svc/ledger", policy.KeyClientSubject, "CN=alice",
		}, reason: "no credentials"},
		// Tolerances that must still pass.
		{name: "expired within leeway", m: anyCred, md: bearer(expiredBy(f, 10*time.Second)), want: &who{ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "leeway", Issuer: idpName}},
		{name: "not yet valid within leeway", m: anyCred, md: bearer(f.token(map[string]any{"jti": "leeway", "nbf": now.Add(10 * time.Second).Unix()})),
			want: &who{ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "leeway", Issuer: idpName}},
		{name: "audience in a list", m: anyCred, md: bearer(f.token(map[string]any{"jti": "leeway", "aud": []string{"payments", "admin"}})),
			want: &who{ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "leeway", Issuer: idpName}},
	})
}

func expiredBy(f *fixture, d time.Duration) string {
	return f.token(map[string]any{"jti": "leeway", "exp": time.Now().Add(-d).Unix(), "iat": time.Now().Add(-time.Hour).Unix(), "nbf": nil})
}

// TestTrustedInternalMetadata checks what the REST front's internal keys
// do when the gateway vouches for them.
func TestTrustedInternalMetadata(t *testing.T) {
	f := newFixture(t)
	a := newAuth(t, f.cfg, f.source(), authn.WithTrustInternalMetadata(true))
	sum := authntest.Thumbprint(f.alice.Leaf)
	cert := []string{policy.KeyClientCertSHA256, sum, policy.KeyClientSubject, `CN=Smith\, J.,O=Bank`}
	runCases(t, a, []testCase{
		{name: "certificate", m: mtlsOnly, md: cert, want: &who{
			ID: "Smith, J.", Kind: policy.KindUser, Cred: policy.CredentialMTLS, CredID: sum, MTLS: true, Cert: sum,
		}},
		{name: "spiffe certificate", m: mtlsOnly, md: join(cert, []string{policy.KeyClientSPIFFE, "spiffe://bank.test/svc/ledger"}), want: &who{
			ID: "spiffe://bank.test/svc/ledger", Kind: policy.KindService, Cred: policy.CredentialMTLS, CredID: sum, MTLS: true, Cert: sum,
			SPIFFE: "spiffe://bank.test/svc/ledger",
		}},
		{name: "bound token", m: needsBound, md: join(cert, bearer(f.token(map[string]any{"jti": "b", "cnf": authntest.CNF(f.alice.Leaf)}))), want: &who{
			ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "b", Issuer: idpName, MTLS: true, Bound: true, Cert: sum,
		}},
		{name: "client address", m: anyCred, p: tlsPeer("192.0.2.9:1", nil, false), md: join(apiKeyMD(f.apiKey["office"]), []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "10.0.0.1:1"}), want: &who{
			ID: "office", Kind: policy.KindUser, Cred: policy.CredentialAPIKey, CredID: idOf(f.apiKey["office"]), Issuer: "api-key",
		}},
		{name: "bad client address", m: anyCred, md: join(apiKeyMD(f.apiKey["office"]), []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "bufconn"}), reason: "client address is unknown"},
		{name: "client address without the REST transport", m: anyCred, p: tlsPeer("192.0.2.9:1", nil, false), md: join(apiKeyMD(f.apiKey["office"]), []string{policy.KeyClientAddr, "10.0.0.1:1"}), reason: "client address 192.0.2.9 not in"},
		{name: "two thumbprints", m: mtlsOnly, md: join(cert, []string{policy.KeyClientCertSHA256, sum}), reason: "no credentials"},
	})
}
