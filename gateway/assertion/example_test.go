package assertion_test

import (
	"context"
	"fmt"
	"net/http"

	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/policy"
)

func ExampleSigner_Attach() {
	signer, err := assertion.New(assertion.Config{Issuer: "portcullis-prod"})
	if err != nil {
		panic(err)
	}
	// The admin listener publishes the public keys.
	admin := http.NewServeMux()
	admin.Handle(assertion.JWKSPath, signer)

	// In the director, after authentication and authorization:
	rec := &policy.Record{Principal: &policy.Principal{ID: "alice", Kind: policy.KindUser, Credential: policy.CredentialJWT}}
	const fullMethod = "/examples.bank.v1.BankService/Transfer"
	ctx, err := signer.Attach(context.Background(), assertion.For(rec, fullMethod, "01JREQUEST"))
	if err != nil {
		panic(err)
	}

	// What the backend sees:
	md, _ := metadata.FromOutgoingContext(ctx)
	v, _ := backend.New(backend.Config{Issuer: "portcullis-prod", JWKS: signer.JWKS()})
	defer v.Close()
	a, err := v.Verify(ctx, fullMethod, md.Get(assertion.MetadataKey)[0])
	fmt.Println(err, a.Subject, a.Kind, a.Credential, a.Audience, a.RequestID, a.ExpiresAt-a.IssuedAt)
	// Output:
	// <nil> alice user jwt examples.bank.v1.BankService 01JREQUEST 30
}
