package authn_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

const refusal = "missing or invalid credentials"

// who is the part of a principal the table tests compare.
type who struct {
	ID, Kind     string
	Cred         policy.Credentials
	CredID       string
	Issuer       string
	Roles        []string
	Groups       []string
	Scopes       []string
	HasScopes    bool
	Tenant       string
	MTLS, Bound  bool
	Cert, SPIFFE string
}

func summary(p *policy.Principal) *who {
	if p == nil {
		return nil
	}
	return &who{
		ID: p.ID, Kind: p.Kind, Cred: p.Credential, CredID: p.CredentialID, Issuer: p.Issuer,
		Roles: p.Roles, Groups: p.Groups, Scopes: p.Scopes, HasScopes: p.HasScopes, Tenant: p.Tenant,
		MTLS: p.MTLS, Bound: p.Bound, Cert: p.CertSHA256, SPIFFE: p.SPIFFEID,
	}
}

// testCase is one call and its expected outcome: a principal (want), a
// refusal whose recorded reason contains reason, or, with neither, a call
// let through without a principal.
type testCase struct {
	name   string
	m      *policy.Method
	p      *peer.Peer
	md     []string
	want   *who
	reason string
}

// runCases runs every case through both interceptors.
func runCases(t *testing.T, a *authn.Authenticator, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		for k, kind := range kinds {
			t.Run(tc.name+"/"+kind.name, func(t *testing.T) {
				got := call(testContext(t), a, k, tc.m, tc.p, tc.md...)
				check(t, kind.name, got, tc.want, tc.reason)
			})
		}
	}
}

func check(t *testing.T, fn string, got outcome, want *who, reason string) {
	t.Helper()
	if reason != "" {
		if status.Code(got.err) != codes.Unauthenticated || status.Convert(got.err).Message() != refusal {
			t.Fatalf("%s() = %v, want %v %q", fn, got.err, codes.Unauthenticated, refusal)
		}
		if got.called {
			t.Errorf("%s() called the handler, want not", fn)
		}
		if !strings.Contains(got.rec.AuthnFailure, reason) {
			t.Errorf("%s() Record.AuthnFailure = %q, want it to contain %q", fn, got.rec.AuthnFailure, reason)
		}
		if got.rec.Principal != nil {
			t.Errorf("%s() Record.Principal = %+v, want nil", fn, got.rec.Principal)
		}
		return
	}
	if got.err != nil || !got.called {
		t.Fatalf("%s() = %v (handler called: %v), want nil and a call (reason %q)", fn, got.err, got.called, got.rec.AuthnFailure)
	}
	if g := summary(got.p); !reflect.DeepEqual(g, want) || got.hasP != (want != nil) {
		t.Errorf("FromContext(%s()) = %+v, %v, want %+v", fn, g, got.hasP, want)
	}
	if got.rec.Principal != got.p {
		t.Errorf("%s() Record.Principal = %p, want the context's %p", fn, got.rec.Principal, got.p)
	}
	if got.rec.AuthnFailure != "" {
		t.Errorf("%s() Record.AuthnFailure = %q, want empty", fn, got.rec.AuthnFailure)
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	a := newAuth(t, f.cfg, f.source())
	alice := tlsPeer("192.0.2.1:4000", &f.alice, true)
	bob := tlsPeer("192.0.2.1:4000", &f.bob, true)
	aliceSum, ledgerSum := authntest.Thumbprint(f.alice.Leaf), authntest.Thumbprint(f.ledger.Leaf)
	rich := f.token(map[string]any{
		"jti": "tok-1", "roles": []string{"teller", "auditor"}, "groups": "ops",
		"scope": "bank.accounts.read bank.transfers.create", "tenant": "acme", "kind": "service",
	})
	plain := f.token(map[string]any{"jti": "tok-2"})
	bound := f.token(map[string]any{"jti": "tok-3", "cnf": authntest.CNF(f.alice.Leaf)})
	jwtWho := func(edit func(*who)) *who {
		w := &who{ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "tok-2", Issuer: idpName}
		if edit != nil {
			edit(w)
		}
		return w
	}
	keyWho := &who{
		ID: "svc-reports", Kind: policy.KindService, Cred: policy.CredentialAPIKey, CredID: idOf(f.apiKey["good"]),
		Issuer: "api-key", Roles: []string{"reporter"}, Scopes: []string{"bank.accounts.read"}, HasScopes: true, Tenant: "acme",
	}
	anon := &who{ID: policy.KindAnonymous, Kind: policy.KindAnonymous}
	runCases(t, a, []testCase{
		{name: "jwt", m: anyCred, md: bearer(plain), want: jwtWho(nil)},
		{name: "jwt claim mapping", m: anyCred, md: bearer(rich), want: &who{
			ID: "alice", Kind: policy.KindService, Cred: policy.CredentialJWT, CredID: "tok-1", Issuer: idpName,
			Roles: []string{"teller", "auditor"}, Groups: []string{"ops"},
			Scopes: []string{"bank.accounts.read", "bank.transfers.create"}, HasScopes: true, Tenant: "acme",
		}},
		{name: "jwt scp array", m: anyCred, md: bearer(f.token(map[string]any{"jti": "tok-2", "scp": []string{"a", "b"}})),
			want: jwtWho(func(w *who) { w.Scopes, w.HasScopes = []string{"a", "b"}, true })},
		{name: "jwt empty scope", m: anyCred, md: bearer(f.token(map[string]any{"jti": "tok-2", "scope": ""})),
			want: jwtWho(func(w *who) { w.Scopes, w.HasScopes = []string{}, true })},
		{name: "jwt lower-case scheme", m: anyCred, md: []string{"authorization", "bearer " + plain}, want: jwtWho(nil)},
		{name: "jwt second issuer", m: anyCred, md: bearer(sign(f.third, "carol", map[string]any{"jti": "t3"})),
			want: &who{ID: "carol", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "t3", Issuer: thirdName}},
		{name: "jwt with certificate", m: anyCred, p: alice, md: bearer(plain),
			want: jwtWho(func(w *who) { w.MTLS, w.Cert = true, aliceSum })},
		{name: "bound jwt", m: anyCred, p: alice, md: bearer(bound),
			want: jwtWho(func(w *who) { w.CredID, w.MTLS, w.Bound, w.Cert = "tok-3", true, true, aliceSum })},
		{name: "bound jwt, bound required", m: needsBound, p: alice, md: bearer(bound),
			want: jwtWho(func(w *who) { w.CredID, w.MTLS, w.Bound, w.Cert = "tok-3", true, true, aliceSum })},
		{name: "unbound jwt, bound required", m: needsBound, p: alice, md: bearer(plain), reason: "requires a certificate-bound token"},
		{name: "bound jwt, restricted", m: restricted, p: alice, md: bearer(bound),
			want: jwtWho(func(w *who) { w.CredID, w.MTLS, w.Bound, w.Cert = "tok-3", true, true, aliceSum })},
		{name: "unbound jwt, restricted", m: restricted, p: alice, md: bearer(plain), reason: "restricted method requires"},
		{name: "api key, restricted", m: restricted, p: alice, md: apiKeyMD(f.apiKey["good"]), reason: "restricted method requires"},
		{name: "bound jwt, other certificate", m: anyCred, p: bob, md: bearer(bound), reason: "with a different client certificate"},
		{name: "jwt, mtls required, no certificate", m: needsMTLS, md: bearer(plain), reason: "requires a verified client certificate"},
		{name: "jwt, mtls required", m: needsMTLS, p: alice, md: bearer(plain),
			want: jwtWho(func(w *who) { w.MTLS, w.Cert = true, aliceSum })},
		{name: "jwt on mtls-only method", m: mtlsOnly, p: alice, md: bearer(plain), reason: "method allows mtls credentials, not jwt"},
		{name: "method allowing nothing", m: noCred, md: bearer(plain), reason: "method allows none credentials, not jwt"},
		{name: "api key", m: anyCred, md: apiKeyMD(f.apiKey["good"]), want: keyWho},
		{name: "api key with certificate", m: anyCred, p: alice, md: apiKeyMD(f.apiKey["good"]),
			want: func() *who { w := *keyWho; w.MTLS, w.Cert = true, aliceSum; return &w }()},
		{name: "api key not yet expired", m: anyCred, md: apiKeyMD(f.apiKey["future"]),
			want: &who{ID: "temp", Kind: policy.KindUser, Cred: policy.CredentialAPIKey, CredID: idOf(f.apiKey["future"]), Issuer: "api-key"}},
		{name: "api key inside its CIDRs", m: anyCred, p: tlsPeer("10.1.2.3:5000", nil, false), md: apiKeyMD(f.apiKey["office"]),
			want: &who{ID: "office", Kind: policy.KindUser, Cred: policy.CredentialAPIKey, CredID: idOf(f.apiKey["office"]), Issuer: "api-key"}},
		{name: "api key inside its CIDRs, mapped IPv6", m: anyCred, p: tlsPeer("[::ffff:10.1.2.3]:5000", nil, false), md: apiKeyMD(f.apiKey["office"]),
			want: &who{ID: "office", Kind: policy.KindUser, Cred: policy.CredentialAPIKey, CredID: idOf(f.apiKey["office"]), Issuer: "api-key"}},
		{name: "api key on jwt-only method", m: jwtOnly, md: apiKeyMD(f.apiKey["good"]), reason: "method allows jwt credentials, not api_key"},
		{name: "certificate alone", m: mtlsOnly, p: alice, want: &who{
			ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialMTLS, CredID: aliceSum, Issuer: "CN=Bank Test CA", MTLS: true, Cert: aliceSum,
		}},
		{name: "service certificate", m: anyCred, p: tlsPeer("192.0.2.2:1", &f.ledger, true), want: &who{
			ID: "spiffe://bank.test/svc/ledger", Kind: policy.KindService, Cred: policy.CredentialMTLS, CredID: ledgerSum,
			Issuer: "CN=Bank Test CA", MTLS: true, Cert: ledgerSum, SPIFFE: "spiffe://bank.test/svc/ledger",
		}},
		{name: "certificate alone on jwt-only method", m: jwtOnly, p: alice, reason: "method allows jwt credentials, not mtls"},
		{name: "unverified certificate", m: mtlsOnly, p: tlsPeer("192.0.2.1:4000", &f.alice, false), reason: "no credentials"},
		{name: "TLS without certificate", m: anyCred, p: tlsPeer("192.0.2.1:4000", nil, false), reason: "no credentials"},
		{name: "nothing", m: anyCred, reason: "no credentials"},
		{name: "two authorization values", m: anyCred, md: join(bearer(plain), bearer(plain)), reason: "ambiguous: 2 authorization values"},
		{name: "bearer and api key", m: anyCred, md: join(bearer(plain), apiKeyMD(f.apiKey["good"])), reason: "ambiguous: both"},
		{name: "two api keys", m: anyCred, md: join(apiKeyMD(f.apiKey["good"]), apiKeyMD(f.apiKey["good"])), reason: "ambiguous: 2 API keys"},
		{name: "public, nothing", m: public, want: anon},
		{name: "public, valid jwt", m: public, md: bearer(plain), want: jwtWho(nil)},
		{name: "public, invalid jwt", m: public, md: bearer(plain + "x"), want: anon},
		{name: "public, ambiguous", m: public, md: join(bearer(plain), apiKeyMD(f.apiKey["good"])), want: anon},
		{name: "public, revoked key", m: public, md: apiKeyMD(f.apiKey["disabled"]), want: anon},
		{name: "no policy", m: nil, md: bearer("garbage")},
		{name: "no policy, no credentials", m: nil},
	})
}

// idOf returns the id part of a full API key.
func idOf(key string) string {
	id, _, err := policy.ParseAPIKey(key)
	if err != nil {
		panic(err)
	}
	return id
}

func TestPrincipalDetails(t *testing.T) {
	f := newFixture(t)
	a := newAuth(t, f.cfg, f.source())
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok := f.token(map[string]any{"jti": nil, "exp": exp.Unix(), "email": "alice@bank.test", "n": 7})
	got := call(testContext(t), a, 0, anyCred, nil, bearer(tok)...)
	if got.err != nil {
		t.Fatalf("UnaryServerInterceptor() = %v, want nil (%s)", got.err, got.rec.AuthnFailure)
	}
	if got.p.Claims["email"] != "alice@bank.test" || got.p.Claims["sub"] != "alice" || got.p.Claims["iss"] != idpName {
		t.Errorf("Principal.Claims = %v, want email, sub and iss", got.p.Claims)
	}
	if _, ok := got.p.Claims["n"]; ok {
		t.Errorf("Principal.Claims = %v, want only string claims", got.p.Claims)
	}
	if !got.p.ExpiresAt.Equal(exp) {
		t.Errorf("Principal.ExpiresAt = %v, want %v", got.p.ExpiresAt, exp)
	}
	if id := got.p.CredentialID; !strings.HasPrefix(id, "sha256:") || strings.Contains(id, tok) || len(id) != len("sha256:")+16 {
		t.Errorf("Principal.CredentialID = %q, want sha256:<16 characters> without the token", id)
	}
}

func TestDisabledCredentials(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.JWT, cfg.APIKeys, cfg.MTLS = false, false, false
	a := newAuth(t, cfg, nil)
	alice := tlsPeer("192.0.2.1:4000", &f.alice, true)
	runCases(t, a, []testCase{
		{name: "jwt", m: anyCred, md: bearer(f.token(nil)), reason: "bearer tokens are not enabled"},
		{name: "api key", m: anyCred, md: apiKeyMD(f.apiKey["good"]), reason: "API keys are not enabled"},
		{name: "certificate", m: anyCred, p: alice, reason: "not enabled as a credential"},
	})
}

func TestRestrictedWithoutDefault(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.RestrictedRequiresBoundToken = new(false)
	a := newAuth(t, cfg, f.source())
	runCases(t, a, []testCase{
		{name: "unbound jwt, restricted", m: restricted, md: bearer(f.token(map[string]any{"jti": "x"})),
			want: &who{ID: "alice", Kind: policy.KindUser, Cred: policy.CredentialJWT, CredID: "x", Issuer: idpName}},
	})
}

// TestDefaultMethodFunc checks that without WithMethodFunc every call is
// protected.
func TestDefaultMethodFunc(t *testing.T) {
	f := newFixture(t)
	a, err := authn.New(f.cfg, f.source())
	if err != nil {
		t.Fatalf("authn.New() = %v, want nil", err)
	}
	defer a.Close()
	for k, kind := range kinds {
		got := call(testContext(t), a, k, nil, nil)
		if status.Code(got.err) != codes.Unauthenticated || got.called {
			t.Errorf("%s() without credentials = %v, want %v", kind.name, got.err, codes.Unauthenticated)
		}
		got = call(testContext(t), a, k, nil, nil, apiKeyMD(f.apiKey["good"])...)
		if got.err != nil || got.p == nil || got.p.ID != "svc-reports" {
			t.Errorf("%s() with an API key = %v, %+v, want nil, svc-reports", kind.name, got.err, got.p)
		}
	}
}

func TestContext(t *testing.T) {
	p := &policy.Principal{ID: "alice"}
	ctx := authn.NewContext(testContext(t), p)
	if got, ok := authn.FromContext(ctx); got != p || !ok {
		t.Errorf("FromContext(NewContext(p)) = %p, %v, want %p, true", got, ok, p)
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Errorf("NewContext(ctx).Deadline() ok = false, want the parent's deadline")
	}
	if got, ok := authn.FromContext(testContext(t)); got != nil || ok {
		t.Errorf("FromContext(empty) = %p, %v, want nil, false", got, ok)
	}
	if got, ok := authn.FromContext(authn.NewContext(testContext(t), nil)); got != nil || ok {
		t.Errorf("FromContext(NewContext(nil)) = %p, %v, want nil, false", got, ok)
	}
}
