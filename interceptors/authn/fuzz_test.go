package authn_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

// FuzzBearerToken runs the unary interceptor, as a function, on calls
// whose only credential is an arbitrary authorization value, for a method
// that accepts JWTs. The seeds are hostile tokens of the trusted issuer
// (expired, another audience, "none", HS256 keyed with the public key,
// signed by another key with the issuer's kid) and malformed headers; no
// seed is a valid token, and the fuzzer cannot forge one. Invariants: no
// panic, the handler never runs, and the call always ends with
// Unauthenticated "missing or invalid credentials". The token cache is off,
// so every input reaches signature verification. Seeds are in
// testdata/fuzz/FuzzBearerToken.
func FuzzBearerToken(f *testing.F) {
	const iss, aud = "https://idp.fuzz", "bank"
	idp := authntest.NewIssuer(iss, "ES256")
	rogue := authntest.NewIssuer(iss, "ES256")
	jwks := filepath.Join(f.TempDir(), "jwks.json")
	if err := idp.WriteJWKS(jwks); err != nil {
		f.Fatal(err)
	}
	m := &policy.Method{FullMethod: "/bank.v1.Bank/Transfer", Credentials: policy.CredentialJWT}
	a, err := authn.New(authn.Config{JWT: true, Issuers: []authn.Issuer{{
		Issuer: iss, Audiences: []string{aud}, Algorithms: []string{"ES256"}, JWKSFile: jwks,
	}}}, nil, authn.WithCacheSize(0), authn.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, true }))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = a.Close() })
	intercept := a.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: m.FullMethod}
	call := func(t testing.TB, value string) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(authn.AuthorizationKey, value))
		called := false
		_, err := intercept(ctx, nil, info, func(context.Context, any) (any, error) { called = true; return nil, nil })
		return called, err
	}
	// The fixture accepts a valid token (so that refusals below mean
	// something); valid tokens are not seeds.
	if called, err := call(f, "Bearer "+idp.Sign(idp.Claims("alice", aud, time.Hour))); !called || err != nil {
		f.Fatalf("interceptor(valid token) = %v (handler called %v), want the handler called", err, called)
	}

	expired := idp.Claims("alice", aud, -time.Minute)
	expired["iat"], expired["nbf"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	pub, _ := x509.MarshalPKIXPublicKey(idp.PublicKey())
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tok := range []string{
		idp.Sign(expired),
		idp.Sign(idp.Claims("alice", "other-audience", time.Hour)),
		rogue.Sign(idp.Claims("alice", aud, time.Hour)),
		authntest.SignWith("HS256", idp.KeyID(), pub, idp.Claims("alice", aud, time.Hour)),
		b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"iss":"`+iss+`","sub":"alice","aud":"bank","exp":4102444800}`)) + ".",
	} {
		f.Add("Bearer " + tok)
	}
	for _, v := range []string{"", "Bearer", "Bearer ", "bearer a.b.c", "Basic YWxpY2U6cGFzcw==", "Bearer " + strings.Repeat("A", 9000), "Bearer ..", "Bearer \x00"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		called, err := call(t, value)
		if called || status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != "missing or invalid credentials" {
			t.Fatalf("interceptor(authorization %q) = %v (handler called %v), want Unauthenticated %q", value, err, called, "missing or invalid credentials")
		}
	})
}
