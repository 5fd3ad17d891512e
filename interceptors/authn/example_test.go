package authn_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

func ExampleNew() {
	// A test issuer stands in for the identity provider; its JWKS is a
	// file that the Authenticator re-reads as it changes.
	idp := authntest.NewIssuer("https://idp.example", "ES256")
	dir, _ := os.MkdirTemp("", "authn-example")
	defer os.RemoveAll(dir)
	jwks := filepath.Join(dir, "jwks.json")
	if err := idp.WriteJWKS(jwks); err != nil {
		panic(err)
	}

	transfer := &policy.Method{FullMethod: "/bank.v1.Bank/Transfer", Credentials: policy.CredentialJWT}
	a, err := authn.New(authn.Config{
		JWT: true,
		Issuers: []authn.Issuer{{
			Issuer:     "https://idp.example",
			Audiences:  []string{"bank"},
			Algorithms: []string{"ES256"},
			JWKSFile:   jwks,
		}},
	}, nil,
		// In the gateway: authn.WithMethodFunc(resolve.FromContext).
		authn.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return transfer, true }),
	)
	if err != nil {
		panic(err)
	}
	defer a.Close()

	claims := idp.Claims("alice", "bank", time.Hour)
	claims["roles"] = []string{"teller"}
	intercept := a.UnaryServerInterceptor()
	handler := func(ctx context.Context, _ any) (any, error) {
		p, _ := authn.FromContext(ctx)
		fmt.Println("principal:", p.ID, p.Kind, p.Roles, p.Credential)
		return nil, nil
	}
	info := &grpc.UnaryServerInfo{FullMethod: transfer.FullMethod}
	for _, md := range []metadata.MD{
		metadata.Pairs("authorization", "Bearer "+idp.Sign(claims)),
		metadata.Pairs("authorization", "Bearer not-a-token"),
		nil,
	} {
		ctx := metadata.NewIncomingContext(context.Background(), md)
		rec := &policy.Record{}
		if _, err := intercept(policy.NewRecordContext(ctx, rec), nil, info, handler); err != nil {
			fmt.Printf("refused: %v %q (recorded: %s)\n", status.Code(err), status.Convert(err).Message(), rec.AuthnFailure)
		}
	}
	// Output:
	// principal: alice user [teller] jwt
	// refused: Unauthenticated "missing or invalid credentials" (recorded: jwt: malformed or disallowed alg: go-jose/go-jose: compact JWS format must have three parts)
	// refused: Unauthenticated "missing or invalid credentials" (recorded: no credentials)
}

func ExampleKeySourceFunc() {
	key, id, hash, err := policy.NewAPIKey()
	if err != nil {
		panic(err)
	}
	// The bundle stores only the id and hash; the client holds key.
	entries := map[string]*policy.APIKey{
		id: {ID: id, Hash: hash, Principal: "svc-reports", Kind: policy.KindService, Roles: []string{"reporter"}},
	}
	keys := authn.KeySourceFunc(func(id string) (*policy.APIKey, bool) {
		k, ok := entries[id]
		return k, ok
	})
	a, err := authn.New(authn.Config{APIKeys: true}, keys)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-api-key", key))
	_, _ = a.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/bank.v1.Reports/Run"},
		func(ctx context.Context, _ any) (any, error) {
			p, _ := authn.FromContext(ctx)
			fmt.Println(p.ID, p.Kind, p.Roles, p.Credential, p.CredentialID == id)
			return nil, nil
		})
	// Output: svc-reports service [reporter] api_key true
}

func ExampleAuthenticator_StreamServerInterceptor() {
	a, err := authn.New(authn.Config{MTLS: true}, nil)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	// Authentication runs after method resolution and before
	// authorization; on the gateway's proxy path only the stream
	// interceptor runs.
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	defer srv.Stop()
	fmt.Println("ready")
	// Output: ready
}
