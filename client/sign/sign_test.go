package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var seedKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

func TestNewHTTPSignerRefuses(t *testing.T) {
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, tc := range []struct {
		name string
		id   string
		key  any
		opts []sign.Option
	}{
		{name: "short hmac", id: "k", key: []byte("short")},
		{name: "P-384", id: "k", key: ec384},
		{name: "public key", id: "k", key: seedKey.Public()},
		{name: "string", id: "k", key: "secret"},
		{name: "empty keyid", id: "", key: seedKey},
		{name: "keyid not ASCII", id: "clé", key: seedKey},
		{name: "label", id: "k", key: seedKey, opts: []sign.Option{sign.WithLabel("Sig")}},
		{name: "digest", id: "k", key: seedKey, opts: []sign.Option{sign.WithDigestAlgorithm("md5")}},
		{name: "header", id: "k", key: seedKey, opts: []sign.Option{sign.WithHeaders("X-Api-Key")}},
		{name: "derived header", id: "k", key: seedKey, opts: []sign.Option{sign.WithHeaders("@query")}},
		{name: "expires", id: "k", key: seedKey, opts: []sign.Option{sign.WithExpires(-time.Second)}},
	} {
		if s, err := sign.NewHTTPSigner(tc.id, tc.key, tc.opts...); err == nil {
			t.Errorf("NewHTTPSigner(%s) = %v, nil, want an error", tc.name, s)
		}
	}
}

// verify checks a signature made by the package with httpsig alone.
func verify(t *testing.T, in, sig string, resolve httpsig.Resolver, pub any) *httpsig.Input {
	t.Helper()
	ins, err := httpsig.ParseSignatureInput(in)
	if err != nil || len(ins) != 1 {
		t.Fatalf("ParseSignatureInput(%q) = %v, %v", in, ins, err)
	}
	sigs, err := httpsig.ParseSignatures(sig)
	if err != nil {
		t.Fatalf("ParseSignatures(%q) = %v", sig, err)
	}
	base, err := httpsig.Base(ins[0], resolve)
	if err != nil {
		t.Fatalf("Base() = %v", err)
	}
	alg, _ := httpsig.AlgorithmOf(pub)
	if err := httpsig.Verify(alg, pub, base, sigs[ins[0].Label]); err != nil {
		t.Errorf("Verify(%s) = %v, want nil", base, err)
	}
	return ins[0]
}

func TestSign(t *testing.T) {
	for _, tc := range []struct {
		method, url, body, ctype string
		components               string
	}{
		{"GET", "https://bank.example/v1/accounts", "", "", `"@method" "@authority" "@path" "content-digest"`},
		{"POST", "https://Bank.Example:443/v1/a?x=1", `{"a":1}`, "application/json", `"@method" "@authority" "@path" "@query" "content-type" "content-digest"`},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, tc.url, body)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			s, err := sign.NewHTTPSigner("k1", seedKey, sign.WithExpires(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Sign(req); err != nil {
				t.Fatalf("Sign() = %v, want nil", err)
			}
			in := verify(t, req.Header.Get("Signature-Input"), req.Header.Get("Signature"), httpsig.RequestResolver(req), seedKey.Public())
			if got := strings.SplitN(strings.TrimPrefix(req.Header.Get("Signature-Input"), "sig1=("), ")", 2)[0]; got != tc.components {
				t.Errorf("Sign() covered %s, want %s", got, tc.components)
			}
			if in.KeyID != "k1" || in.Alg != "ed25519" || len(in.Nonce) != 22 || in.Expires != in.Created+60 {
				t.Errorf("Sign() parameters = %+v, want keyid k1, alg ed25519, a 22-character nonce, expires created+60", in)
			}
			if tc.body != "" {
				b, _ := io.ReadAll(req.Body)
				again, _ := req.GetBody()
				b2, _ := io.ReadAll(again)
				if string(b) != tc.body || string(b2) != tc.body || req.ContentLength != int64(len(tc.body)) {
					t.Errorf("Sign() left body %q, GetBody %q, length %d, want %q", b, b2, req.ContentLength, tc.body)
				}
			}
			if err := httpsig.VerifyContentDigest(req.Header.Get("Content-Digest"), []byte(tc.body)); err != nil {
				t.Errorf("Content-Digest %q: %v", req.Header.Get("Content-Digest"), err)
			}
		})
	}
}

// The gRPC interceptor signs the :authority grpc-go derives from the
// target, the full method and the deterministic encoding of the message.
func TestUnaryClientInterceptor(t *testing.T) {
	msg, _ := structpb.NewStruct(map[string]any{"b": 1, "a": "x", "c": true}) // a map: encoding order matters
	for _, tc := range []struct{ target, authority string }{
		{"passthrough:///bank.example:8443", "bank.example:8443"},
		{"dns:///Bank.Example:443", "bank.example"},
		{"bank.example", "bank.example"},
		{"passthrough:///:50051", "localhost:50051"},
		{"unix:///tmp/bank.sock", "localhost"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			cc, err := grpc.NewClient(tc.target, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			s, _ := sign.NewHTTPSigner("k1", seedKey, sign.WithHeaders("x-api-key"))
			var md metadata.MD
			var opts []grpc.CallOption
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "pcs_x", "x-signature", "stale")
			err = sign.UnaryClientInterceptor(s)(ctx, "/bank.v1.BankService/Transfer", msg, nil, cc,
				func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, o ...grpc.CallOption) error {
					md, _ = metadata.FromOutgoingContext(ctx)
					opts = o
					return nil
				})
			if err != nil {
				t.Fatalf("UnaryClientInterceptor() = %v, want nil", err)
			}
			if len(md.Get("x-signature")) != 1 || len(md.Get("x-signature-input")) != 1 || len(md.Get("x-content-digest")) != 1 || len(opts) != 1 {
				t.Fatalf("metadata = %v, options %v, want one of each signature key and the codec option", md, opts)
			}
			resolve := func(name string) (string, error) {
				switch name {
				case "@path":
					return "/bank.v1.BankService/Transfer", nil
				case "@authority":
					return tc.authority, nil
				}
				v, _ := httpsig.FieldValue(md.Get(name))
				return v, nil
			}
			in := verify(t, md.Get("x-signature-input")[0], md.Get("x-signature")[0], resolve, seedKey.Public())
			if strings.Join(in.Components, " ") != "@path @authority x-content-digest x-api-key" {
				t.Errorf("covered %v, want @path @authority x-content-digest x-api-key", in.Components)
			}
		})
	}
}
