package signature_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// exampleKeys is a client's key pair and a KeySource that knows its public
// half as "k1" (the gateway backs the KeySource with its API keys).
func exampleKeys() (ed25519.PrivateKey, signature.KeySource) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return priv, signature.KeySourceFunc(func(_ context.Context, id string) (*signature.Key, bool) {
		if id != "k1" {
			return nil, false
		}
		return &signature.Key{Algorithm: httpsig.Ed25519, Public: pub}, true
	})
}

func ExampleVerifier_HTTPMiddleware() {
	priv, keys := exampleKeys()
	v, err := signature.New(keys)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(v.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := signature.FromContext(r.Context())
		fmt.Fprintf(w, "signed by %s", s.KeyID)
	})))
	defer srv.Close()

	signer, err := sign.NewHTTPSigner("k1", priv)
	if err != nil {
		panic(err)
	}
	for _, signed := range []bool{true, false} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/accounts/a1:transfer", strings.NewReader(`{"amount":"10"}`))
		req.Header.Set("Content-Type", "application/json")
		if signed {
			if err := signer.Sign(req); err != nil {
				panic(err)
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(b))
	}
	// Output:
	// 200 signed by k1
	// 401 {"code":16,"message":"invalid request signature","details":[]}
}

func ExampleVerifier_UnaryServerInterceptor() {
	priv, keys := exampleKeys()
	v, err := signature.New(keys)
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(v.StreamServerInterceptor()),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	signer, err := sign.NewHTTPSigner("k1", priv)
	if err != nil {
		panic(err)
	}
	dial := func(opts ...grpc.DialOption) *grpc.ClientConn {
		cc, err := grpc.NewClient("passthrough:///bank.example", append(opts,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		)...)
		if err != nil {
			panic(err)
		}
		return cc
	}
	signed := dial(
		grpc.WithChainUnaryInterceptor(sign.UnaryClientInterceptor(signer)),
		grpc.WithChainStreamInterceptor(sign.StreamClientInterceptor(signer)),
	)
	defer signed.Close()
	plain := dial()
	defer plain.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cc := range []*grpc.ClientConn{signed, plain} {
		_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		fmt.Printf("%v %q\n", status.Code(err), status.Convert(err).Message())
	}
	// Output:
	// OK ""
	// Unauthenticated "invalid request signature"
}
