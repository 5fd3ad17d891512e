package backend_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
)

func ExampleNew() {
	// A stand-in for the gateway; in production the backend trusts the
	// gateway's published set:
	//   backend.Config{Issuer: "portcullis-prod",
	//     JWKSURL: "https://portcullis-admin:9443/.well-known/portcullis-jwks.json"}
	gw := backendtest.New("portcullis-prod", "EdDSA")

	v, err := backend.New(backend.Config{Issuer: "portcullis-prod", JWKS: gw.JWKS()},
		backend.WithExemptMethods("/grpc.health.v1.Health/*"))
	if err != nil {
		panic(err)
	}
	defer v.Close()
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(v.StreamServerInterceptor()),
	)
	defer srv.Stop()
	// ... register the service and srv.Serve(lis) as usual.

	// What the interceptor does with three calls of Transfer:
	const transfer = "/examples.bank.v1.BankService/Transfer"
	handler := func(ctx context.Context, _ any) (any, error) {
		a, _ := backend.FromContext(ctx)
		fmt.Println("handler: called by", a.Subject, "via", a.Issuer, "for", a.Audience)
		return nil, nil
	}
	for _, md := range []metadata.MD{
		metadata.Pairs(backend.MetadataKey, gw.Assertion(transfer, "alice")), // through the gateway
		nil, // directly
		metadata.Pairs(backend.MetadataKey, gw.Assertion("/examples.bank.v1.BankService/Get", "eve")), // for another method
	} {
		ctx := metadata.NewIncomingContext(context.Background(), md)
		_, err := v.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: transfer}, handler)
		if err != nil {
			s := status.Convert(err)
			fmt.Println("refused:", s.Code(), s.Message())
		}
	}
	// Output:
	// handler: called by alice via portcullis-prod for examples.bank.v1.BankService
	// refused: Unauthenticated call did not come through the gateway
	// refused: Unauthenticated call did not come through the gateway
}
