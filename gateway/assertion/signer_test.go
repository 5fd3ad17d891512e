package assertion_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/policy"
)

// verifier trusts s's current key set, statically.
func verifier(t testing.TB, s *assertion.Signer) *backend.Verifier {
	t.Helper()
	v, err := backend.New(backend.Config{Issuer: gatewayID, JWKS: s.JWKS()})
	if err != nil {
		t.Fatalf("backend.New() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// TestSign checks the claims and header of a signed assertion, as the
// backend verifier reads them.
func TestSign(t *testing.T) {
	for _, alg := range []string{assertion.EdDSA, assertion.ES256} {
		t.Run(alg, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			s := newSigner(t, assertion.Config{Issuer: gatewayID, Algorithm: alg}, assertion.WithClock(func() time.Time { return now }))
			tok, err := s.Sign(alice)
			if err != nil {
				t.Fatalf("Sign() = %v, want nil", err)
			}
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("ParseSignedCompact() = %v, want nil", err)
			}
			h := jws.Signatures[0].Header
			if h.Algorithm != alg || h.KeyID != s.KeyID() || h.ExtraHeaders[jose.HeaderType] != backend.TokenType {
				t.Errorf("header = alg %s kid %s typ %v, want %s %s %s", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType], alg, s.KeyID(), backend.TokenType)
			}
			var claims map[string]any
			if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
				t.Fatalf("claims: %v", err)
			}
			want := map[string]any{
				"iss": gatewayID, "sub": "alice", "kind": "user", "roles": []any{"teller", "auditor"},
				"credential": "jwt", "method": method, "aud": service, "request_id": "01JREQUEST",
				"iat": float64(now.Unix()), "exp": float64(now.Unix() + 30),
			}
			for k, w := range want {
				if got, _ := json.Marshal(claims[k]); string(got) != mustJSON(t, w) {
					t.Errorf("claim %s = %s, want %s", k, got, mustJSON(t, w))
				}
			}
			if jti, _ := claims["jti"].(string); len(jti) != 22 {
				t.Errorf("claim jti = %q, want 22 base64url characters", jti)
			}
			if len(claims) != len(want)+1 {
				t.Errorf("claims = %v, want exactly %d", claims, len(want)+1)
			}
			tok2, _ := s.Sign(alice)
			if tok2 == tok {
				t.Error("Sign() twice = the same assertion, want a fresh jti each time")
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%v) = %v", v, err)
	}
	return string(b)
}

// TestSignVerifies round-trips through the backend verifier.
func TestSignVerifies(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID, Lifetime: 10 * time.Second})
	v := verifier(t, s)
	a := alice
	a.Audience = ""
	for _, tt := range []struct {
		name   string
		in     assertion.Assertion
		method string
		ok     bool
	}{
		{"default audience", a, method, true},
		{"for another method", a, "/examples.bank.v1.BankService/GetAccount", false},
		{"explicit audience", func() assertion.Assertion { b := a; b.Audience = "bank-backend"; return b }(), method, false},
	} {
		tok, err := s.Sign(tt.in)
		if err != nil {
			t.Fatalf("Sign(%s) = %v, want nil", tt.name, err)
		}
		got, err := v.Verify(testContext(t), tt.method, tok)
		if (err == nil) != tt.ok {
			t.Errorf("Verify(Sign(%s)) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err == nil && (got.ExpiresAt-got.IssuedAt != 10 || got.Subject != "alice" || got.Credential != "jwt") {
			t.Errorf("Verify(Sign(%s)) = %+v, want alice's jwt assertion of 10s", tt.name, got)
		}
	}
}

func TestSignErrors(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID})
	for _, tt := range []struct {
		name string
		edit func(*assertion.Assertion)
		want string
	}{
		{"no subject", func(a *assertion.Assertion) { a.Subject = "" }, "subject and kind are required"},
		{"no kind", func(a *assertion.Assertion) { a.Kind = "" }, "subject and kind are required"},
		{"bad method", func(a *assertion.Assertion) { a.Method = "Transfer" }, "not a full method name"},
	} {
		a := alice
		tt.edit(&a)
		if _, err := s.Sign(a); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Sign(%s) = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestFor(t *testing.T) {
	p := &policy.Principal{ID: "svc-ledger", Kind: policy.KindService, Credential: policy.CredentialMTLS, Roles: []string{"token-role"}}
	for _, tt := range []struct {
		name string
		rec  *policy.Record
		want assertion.Assertion
	}{
		{"no record", nil, assertion.Assertion{Subject: "anonymous", Kind: "anonymous", Method: method, RequestID: "r1"}},
		{"no principal", &policy.Record{}, assertion.Assertion{Subject: "anonymous", Kind: "anonymous", Method: method, RequestID: "r1"}},
		{"principal only", &policy.Record{Principal: p}, assertion.Assertion{
			Subject: "svc-ledger", Kind: "service", Credential: policy.CredentialMTLS, Roles: []string{"token-role"}, Method: method, RequestID: "r1"}},
		{"with decision", &policy.Record{Principal: p, Decision: &policy.Decision{Roles: []string{"bound-role", "token-role"}}}, assertion.Assertion{
			Subject: "svc-ledger", Kind: "service", Credential: policy.CredentialMTLS, Roles: []string{"bound-role", "token-role"}, Method: method, RequestID: "r1"}},
	} {
		got := assertion.For(tt.rec, method, "r1")
		if mustJSON(t, got) != mustJSON(t, tt.want) {
			t.Errorf("For(%s) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestJWKS checks the published set: public keys only, current first.
func TestJWKS(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID})
	first := s.KeyID()
	second, err := s.Rotate()
	if err != nil {
		t.Fatalf("Rotate() = %v, want nil", err)
	}
	doc := s.JWKS()
	if strings.Contains(string(doc), `"d"`) {
		t.Errorf("JWKS() = %s, contains private key material", doc)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("json.Unmarshal(JWKS()) = %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.Algorithm != "EdDSA" {
			t.Errorf("JWKS() key %s: public %v use %q alg %q, want public sig EdDSA", k.KeyID, k.IsPublic(), k.Use, k.Algorithm)
		}
		kids = append(kids, k.KeyID)
	}
	if strings.Join(kids, ",") != second+","+first {
		t.Errorf("JWKS() kids = %v, want [%s %s]", kids, second, first)
	}
	doc[0] = 'x' // the caller's copy
	if s.JWKS()[0] != '{' {
		t.Error("JWKS() returned the Signer's own buffer, want a copy")
	}
}

func TestServeHTTP(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID})
	for _, tt := range []struct {
		method string
		code   int
		body   bool
	}{{http.MethodGet, 200, true}, {http.MethodHead, 200, false}, {http.MethodPost, 405, false}} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tt.method, assertion.JWKSPath, nil))
		if rec.Code != tt.code {
			t.Errorf("%s %s = %d, want %d", tt.method, assertion.JWKSPath, rec.Code, tt.code)
		}
		if tt.code != 200 {
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/jwk-set+json" {
			t.Errorf("%s Content-Type = %q, want application/jwk-set+json", tt.method, ct)
		}
		if got := rec.Body.String(); (got == string(s.JWKS())) != tt.body {
			t.Errorf("%s body = %q, want the JWKS: %v", tt.method, got, tt.body)
		}
	}
}

// TestSetMetadata replaces any assertion already in md with one fresh one.
func TestSetMetadata(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID})
	v := verifier(t, s)
	md := metadata.Pairs(assertion.MetadataKey, "forged", assertion.MetadataKey, "forged-too", "x-request-id", "01JREQUEST")
	if err := s.SetMetadata(md, alice); err != nil {
		t.Fatalf("SetMetadata() = %v, want nil", err)
	}
	vals := md.Get(assertion.MetadataKey)
	if len(vals) != 1 {
		t.Fatalf("SetMetadata() left %d assertions, want 1", len(vals))
	}
	if _, err := v.Verify(testContext(t), method, vals[0]); err != nil {
		t.Errorf("Verify(SetMetadata assertion) = %v, want nil", err)
	}
	bad := alice
	bad.Subject = ""
	if err := s.SetMetadata(metadata.MD{}, bad); err == nil {
		t.Error("SetMetadata(no subject) = nil, want an error")
	}
}
