package backend_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
)

func TestConfigErrors(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	jwks := gw.JWKS()
	tests := []struct {
		name string
		cfg  backend.Config
		opts []backend.Option
		want string
	}{
		{"no issuer", backend.Config{JWKS: jwks}, nil, "issuer: required"},
		{"no key source", backend.Config{Issuer: gatewayID}, nil, "exactly one"},
		{"two key sources", backend.Config{Issuer: gatewayID, JWKS: jwks, JWKSFile: "/x"}, nil, "exactly one"},
		{"plain http to a network host", backend.Config{Issuer: gatewayID, JWKSURL: "http://gateway:9090/jwks"}, nil, "neither https nor http to a loopback"},
		{"relative URL", backend.Config{Issuer: gatewayID, JWKSURL: "/jwks"}, nil, "not an absolute URL"},
		{"alg none", backend.Config{Issuer: gatewayID, JWKS: jwks, Algorithms: []string{"none"}}, nil, `"none" is not allowed`},
		{"alg HS256", backend.Config{Issuer: gatewayID, JWKS: jwks, Algorithms: []string{"HS256"}}, nil, `"HS256" is not allowed`},
		{"alg RS256", backend.Config{Issuer: gatewayID, JWKS: jwks, Algorithms: []string{"RS256"}}, nil, `"RS256" is not allowed`},
		{"empty audience", backend.Config{Issuer: gatewayID, JWKS: jwks, Audiences: []string{""}}, nil, "empty audience"},
		{"negative duration", backend.Config{Issuer: gatewayID, JWKS: jwks, FetchTimeout: -time.Second}, nil, "fetch_timeout"},
		{"lifetime over 1h", backend.Config{Issuer: gatewayID, JWKS: jwks, MaxLifetime: 2 * time.Hour}, nil, "max_lifetime"},
		{"negative size", backend.Config{Issuer: gatewayID, JWKS: jwks, MaxAssertionBytes: -1}, nil, "must not be negative"},
		{"static set not a set", backend.Config{Issuer: gatewayID, JWKS: []byte(`[]`)}, nil, "not a JWK Set"},
		{"static set without usable key", backend.Config{Issuer: gatewayID, JWKS: []byte(`{"keys":[]}`)}, nil, "no usable key"},
		{"negative replay size", backend.Config{Issuer: gatewayID, JWKS: jwks}, []backend.Option{backend.WithReplayProtection(-1)}, "WithReplayProtection(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := backend.New(tt.cfg, tt.opts...)
			if err == nil {
				_ = v.Close()
				t.Fatalf("New(%s) = nil error, want one containing %q", tt.name, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "backend: ") {
				t.Errorf("New(%s) = %q, want a \"backend: \" error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestKeySetFiltering checks which published keys are used: unusable ones
// are skipped, and the rest of the set still works.
func TestKeySetFiltering(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	other := backendtest.New(gatewayID, "ES256")
	hostile := `{"keys":[
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
		{"kty":"RSA","kid":"rsa","n":"sXch","e":"AQAB"},
		{"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		{"kty":"OKP","crv":"Ed25519","kid":"","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		{"kty":"EC","crv":"P-384","kid":"p384","x":"AAAA","y":"AAAA"},
		{"kty":"OKP","crv":"Ed25519","kid":"priv","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}
	]}`
	v := newVerifier(t, backend.Config{Issuer: gatewayID, JWKS: joinSets(t, []byte(hostile), gw.JWKS(), other.JWKS(), other.JWKS())})
	if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != codes.OK {
		t.Errorf("intercept(key beside unusable ones) = %v, want OK", c)
	}
	// A kid published twice is ambiguous and not used at all.
	if c := verifyCode(t, v, other.Assertion(method, "alice")); c == codes.OK {
		t.Errorf("intercept(kid published twice) = %v, want Unauthenticated", c)
	}
}
