package backend_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
)

const refusedMessage = "call did not come through the gateway"

// TestVerify calls the interceptors as plain functions with one assertion
// each, valid or hostile.
func TestVerify(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	rogue := backendtest.New(gatewayID, "EdDSA") // same iss, untrusted key
	ecGW := backendtest.New(gatewayID, "ES256")
	cfg := staticConfig(gw)
	cfg.JWKS = joinSets(t, gw.JWKS(), ecGW.JWKS())
	why := &reasons{}
	v := newVerifier(t, cfg, backend.WithLogger(why.logger()))

	claims := func(edit func(map[string]any)) map[string]any {
		c := gw.Claims(method, "alice", 30*time.Second)
		if edit != nil {
			edit(c)
		}
		return c
	}
	now := time.Now()
	pub := gw.PrivateKey().Public().(ed25519.PublicKey)
	ecPub, _ := x509.MarshalPKIXPublicKey(ecGW.PrivateKey().Public().(*ecdsa.PublicKey))
	tests := []struct {
		name   string
		reason string   // in the error of Verify (or of the metadata check)
		md     []string // incoming metadata pairs
		valid  bool
	}{
		{"valid EdDSA", ``, []string{backend.MetadataKey, gw.Sign(claims(nil))}, true},
		{"valid ES256", ``, []string{backend.MetadataKey, ecGW.Sign(ecGW.Claims(method, "alice", 30*time.Second))}, true},
		{"no assertion", `no assertion`, nil, false},
		{"two assertions", `2 assertions`, []string{backend.MetadataKey, gw.Sign(claims(nil)), backend.MetadataKey, gw.Sign(claims(nil))}, false},
		{"garbage", `malformed`, []string{backend.MetadataKey, "not.a.jws"}, false},
		{"oversized", `exceeds the maximum`, []string{backend.MetadataKey, strings.Repeat("a", 9000)}, false},
		{"expired", `expired at`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-time.Minute).Unix(), now.Add(-20*time.Second).Unix()
		}))}, false},
		{"issued in the future", `issued in the future`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(time.Minute).Unix(), now.Add(90*time.Second).Unix()
		}))}, false},
		{"lifetime too long", `lifetime 1h0m0s exceeds`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["exp"] = now.Add(time.Hour).Unix()
		}))}, false},
		{"exp before iat", `exp is not after iat`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["exp"] = now.Add(-time.Second).Unix()
		}))}, false},
		{"no exp", `no iat or exp`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) { delete(c, "exp") }))}, false},
		{"other audience", `is not the called service`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["aud"] = "examples.shop.v1.ShopService"
		}))}, false},
		{"audience as array", `cannot unmarshal array`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["aud"] = []string{service}
		}))}, false},
		{"other method", `is not the called "/examples`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) {
			c["method"] = "/examples.bank.v1.BankService/GetAccount"
		}))}, false},
		{"other issuer", `iss "someone-else"`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) { c["iss"] = "someone-else" }))}, false},
		{"no sub", `no sub`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) { delete(c, "sub") }))}, false},
		{"no jti", `no jti`, []string{backend.MetadataKey, gw.Sign(claims(func(c map[string]any) { delete(c, "jti") }))}, false},
		{"untrusted key, same kid", `signature verification failed`, []string{backend.MetadataKey, backendtest.SignWith("EdDSA", gw.KeyID(), backend.TokenType, rogue.PrivateKey(), claims(nil))}, false},
		{"untrusted key, own kid", `unknown kid`, []string{backend.MetadataKey, rogue.Sign(claims(nil))}, false},
		{"no kid", `unknown kid ""`, []string{backend.MetadataKey, backendtest.SignWith("EdDSA", "", backend.TokenType, gw.PrivateKey(), claims(nil))}, false},
		{"alg none", `unexpected signature algorithm "none"`, []string{backend.MetadataKey, unsigned(t, gw.KeyID(), claims(nil))}, false},
		{"HS256 with the public key", `unexpected signature algorithm "HS256"`, []string{backend.MetadataKey, backendtest.SignWith("HS256", gw.KeyID(), backend.TokenType, []byte(pub), claims(nil))}, false},
		{"HS256 with the EC public key", `unexpected signature algorithm "HS256"`, []string{backend.MetadataKey, backendtest.SignWith("HS256", ecGW.KeyID(), backend.TokenType, ecPub, claims(nil))}, false},
		{"ES256 key under EdDSA kid", `does not fit alg ES256`, []string{backend.MetadataKey, backendtest.SignWith("ES256", gw.KeyID(), backend.TokenType, ecGW.PrivateKey(), claims(nil))}, false},
		{"typ JWT", `typ "JWT"`, []string{backend.MetadataKey, backendtest.SignWith("EdDSA", gw.KeyID(), "JWT", gw.PrivateKey(), claims(nil))}, false},
		{"no typ", `typ ""`, []string{backend.MetadataKey, backendtest.SignWith("EdDSA", gw.KeyID(), "", gw.PrivateKey(), claims(nil))}, false},
		{"under another key", `no assertion`, []string{"authorization", "Bearer " + gw.Sign(claims(nil))}, false},
	}
	for _, tt := range tests {
		for _, kind := range []struct {
			name string
			call func() (*backend.Assertion, error)
		}{
			{"unary", func() (*backend.Assertion, error) { return callUnary(testContext(t), v, method, tt.md...) }},
			{"stream", func() (*backend.Assertion, error) { return callStream(testContext(t), v, method, tt.md...) }},
		} {
			t.Run(tt.name+"/"+kind.name, func(t *testing.T) {
				a, err := kind.call()
				if tt.valid {
					if err != nil || a == nil || a.Subject != "alice" || a.Method != method || a.Audience != service {
						t.Fatalf("intercept(%s) = %+v, %v, want alice's assertion, nil", tt.name, a, err)
					}
					return
				}
				if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != refusedMessage {
					t.Fatalf("intercept(%s) = %v, want Unauthenticated %q", tt.name, err, refusedMessage)
				}
				if a != nil {
					t.Fatalf("intercept(%s): handler ran with %+v, want not called", tt.name, a)
				}
				if got := why.take(); !strings.Contains(got, tt.reason) {
					t.Errorf("intercept(%s) refused for %q, want a reason containing %q", tt.name, got, tt.reason)
				}
			})
		}
	}
}

// TestVerifyClaims checks that every claim arrives as signed.
func TestVerifyClaims(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	v := newVerifier(t, staticConfig(gw))
	c := gw.Claims(method, "svc-ledger", 30*time.Second)
	c["kind"], c["roles"], c["credential"], c["request_id"] = "service", []string{"a", "b"}, "mtls", "req-1"
	got, err := v.Verify(testContext(t), method, gw.Sign(c))
	if err != nil {
		t.Fatalf("Verify() = %v, want nil", err)
	}
	want := backend.Assertion{
		Issuer: gatewayID, Subject: "svc-ledger", Audience: service, Kind: "service",
		Roles: []string{"a", "b"}, Credential: "mtls", Method: method, RequestID: "req-1",
		IssuedAt: c["iat"].(int64), ExpiresAt: c["exp"].(int64), ID: c["jti"].(string),
	}
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.Audience != want.Audience ||
		got.Kind != want.Kind || strings.Join(got.Roles, ",") != "a,b" || got.Credential != want.Credential ||
		got.Method != want.Method || got.RequestID != want.RequestID || got.IssuedAt != want.IssuedAt ||
		got.ExpiresAt != want.ExpiresAt || got.ID != want.ID {
		t.Errorf("Verify() = %+v, want %+v", *got, want)
	}
}

// TestAudiences checks a configured audience replacing the service name.
func TestAudiences(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	cfg := staticConfig(gw)
	cfg.Audiences = []string{"bank-backend"}
	v := newVerifier(t, cfg)
	for _, tt := range []struct {
		aud  string
		want codes.Code
	}{{"bank-backend", codes.OK}, {service, codes.Unauthenticated}, {"", codes.Unauthenticated}} {
		t.Run(tt.aud, func(t *testing.T) {
			c := gw.Claims(method, "alice", 30*time.Second)
			c["aud"] = tt.aud
			_, err := callUnary(testContext(t), v, method, backend.MetadataKey, gw.Sign(c))
			if status.Code(err) != tt.want {
				t.Errorf("intercept(aud %q) = %v, want %v", tt.aud, err, tt.want)
			}
		})
	}
}

// TestLeeway checks exp against the clock with the configured leeway.
func TestLeeway(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	clk := newClock()
	v := newVerifier(t, staticConfig(gw), backend.WithClock(clk.Now))
	tok := gw.Assertion(method, "alice")
	for _, tt := range []struct {
		advance time.Duration
		want    codes.Code
	}{{0, codes.OK}, {33 * time.Second, codes.OK}, {3 * time.Second, codes.Unauthenticated}} {
		clk.Advance(tt.advance)
		if _, err := callUnary(testContext(t), v, method, backend.MetadataKey, tok); status.Code(err) != tt.want {
			t.Errorf("intercept(after +%v) = %v, want %v", tt.advance, err, tt.want)
		}
	}
}

func TestServiceName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/examples.bank.v1.BankService/Transfer", "examples.bank.v1.BankService"},
		{"/a/b", "a"},
		{"examples.bank.v1.BankService/Transfer", ""},
		{"/examples.bank.v1.BankService/", ""},
		{"//Transfer", ""},
		{"/a/b/c", "a/b"}, // as the gateway's router splits it
		{"", ""},
	} {
		if got := backend.ServiceName(tt.in); got != tt.want {
			t.Errorf("ServiceName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
