package sign_test

import (
	"crypto/ed25519"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/portcullis/portcullis/client/sign"
)

func ExampleNewHTTPSigner() {
	// A fixed key, clock and nonce make the output reproducible; real
	// signers use the defaults (time.Now and a random nonce).
	key := ed25519.NewKeyFromSeed([]byte("0123456789abcdef0123456789abcdef"))
	signer, err := sign.NewHTTPSigner("k1", key,
		sign.WithClock(func() time.Time { return time.Unix(1_700_000_000, 0) }),
		sign.WithNonceFunc(func() (string, error) { return "n-0123456789", nil }),
	)
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "https://bank.example/v1/accounts/a1:transfer", strings.NewReader(`{"amount":"10"}`))
	req.Header.Set("Content-Type", "application/json")
	if err := signer.Sign(req); err != nil {
		panic(err)
	}
	for _, h := range []string{"Content-Digest", "Signature-Input", "Signature"} {
		fmt.Printf("%s: %s\n", h, req.Header.Get(h))
	}
	// Output:
	// Content-Digest: sha-256=:pn28wZwWFK3iS2w4sSRofd9KssyaXJZQhA4EPPezw40=:
	// Signature-Input: sig1=("@method" "@authority" "@path" "content-type" "content-digest");created=1700000000;nonce="n-0123456789";keyid="k1";alg="ed25519"
	// Signature: sig1=:eCfNX3mAnssq7PblgFoS7CipHjmcMf65M3HM0erRoXz+yYlZEjSYuB2pJHAb7mIWZHyDqXJN5fowvhn3tUMVCw==:
}

func ExampleUnaryClientInterceptor() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signer, err := sign.NewHTTPSigner("k1", key)
	if err != nil {
		panic(err)
	}
	// Every call on cc is signed; streams over their first message.
	cc, err := grpc.NewClient("dns:///bank.example:443",
		grpc.WithTransportCredentials(insecure.NewCredentials()), // use TLS in production
		grpc.WithChainUnaryInterceptor(sign.UnaryClientInterceptor(signer)),
		grpc.WithChainStreamInterceptor(sign.StreamClientInterceptor(signer)),
	)
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	fmt.Println(signer.Algorithm())
	// Output: ed25519
}
