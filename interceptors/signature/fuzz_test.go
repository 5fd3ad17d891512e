package signature_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// The fuzz keys are fixed, so that every fuzzing process (and the
// committed corpus) agrees on which signatures are valid. The ECDSA key is
// test-key-ecc-p256 of RFC 9421 Appendix B.1.3.
const fuzzECKey = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49
AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM
4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END EC PRIVATE KEY-----`

func fuzzKeys(t testing.TB) (map[string]any, signature.KeySource) {
	t.Helper()
	blk, _ := pem.Decode([]byte(fuzzECKey))
	ec, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ed := ed25519.NewKeyFromSeed([]byte("portcullis-fuzz-ed25519-seed-32b"))
	priv := map[string]any{"ed": ed, "ec": ec, "mac": []byte("portcullis-fuzz-hmac-secret-32by")}
	pub := map[string]*signature.Key{
		"ed":  {Algorithm: httpsig.Ed25519, Public: ed.Public()},
		"ec":  {Algorithm: httpsig.ECDSAP256SHA256, Public: &ec.PublicKey},
		"mac": {Algorithm: httpsig.HMACSHA256, Secret: priv["mac"].([]byte)},
	}
	return priv, signature.KeySourceFunc(func(_ context.Context, id string) (*signature.Key, bool) {
		k, ok := pub[id]
		return k, ok
	})
}

// fuzzRequest is the parts of a request FuzzVerifyHTTP varies.
type fuzzRequest struct {
	method, target, host, sigInput, sig, digest, ctype, body string
}

// wire is the request as HTTP/1.1 text.
func (f fuzzRequest) wire() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", f.method, f.target, f.host)
	for _, h := range [][2]string{{"Signature-Input", f.sigInput}, {"Signature", f.sig}, {"Content-Digest", f.digest}, {"Content-Type", f.ctype}} {
		if h[1] != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(f.body), f.body)
	return b.String()
}

// covered is what a signature binds: equal for two requests exactly when
// a signature over one verifies for the other.
func covered(r *http.Request, body string) string {
	return strings.Join([]string{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, httpsig.Authority(r.Host), strings.Join(r.Header.Values("Content-Type"), ","), body}, "\x00")
}

// FuzzVerifyHTTP feeds requests through HTTPMiddleware with a fresh
// Verifier for each. The seeds are requests signed with the fuzz keys;
// mutations change any part of them. Invariants: no panic; the answer is
// 200 from the handler, 401 with the fixed body or 413; and a request is
// let through only if what its signature covers (method, path, query,
// authority, content type, body) is exactly what one of the seeds signed,
// since the fuzzer cannot forge signatures. Seeds are in
// testdata/fuzz/FuzzVerifyHTTP.
func FuzzVerifyHTTP(f *testing.F) {
	priv, keys := fuzzKeys(f)
	signed := map[string]bool{}
	for i, s := range []struct{ id, method, target, body string }{
		{"ed", "POST", "https://bank.example/v1/accounts/a1:transfer?dry_run=true", `{"to":"a2","amount":"10"}`},
		{"mac", "GET", "https://bank.example/v1/accounts", ""},
		{"ec", "DELETE", "https://bank.example:443/v1/accounts/a%2F1", ""},
	} {
		req := clientRequest(f, s.method, s.target, s.body)
		signer, err := sign.NewHTTPSigner(s.id, priv[s.id], sign.WithClock(func() time.Time { return start }),
			sign.WithNonceFunc(func() (string, error) { return "fuzz-nonce-" + strconv.Itoa(i), nil }))
		if err != nil {
			f.Fatal(err)
		}
		if err := signer.Sign(req); err != nil {
			f.Fatal(err)
		}
		fr := fuzzRequest{s.method, req.URL.RequestURI(), req.URL.Host, req.Header.Get("Signature-Input"), req.Header.Get("Signature"),
			req.Header.Get("Content-Digest"), req.Header.Get("Content-Type"), s.body}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(fr.wire())))
		if err != nil {
			f.Fatalf("ReadRequest(seed %d) = %v", i, err)
		}
		signed[covered(r, s.body)] = true
		v, _ := signature.New(keys, signature.WithClock(func() time.Time { return start }))
		if o := serve(f, v, r); o.code != http.StatusOK {
			f.Fatalf("HTTPMiddleware(seed %d) = %d %q, want 200", i, o.code, o.body)
		}
		f.Add(fr.method, fr.target, fr.host, fr.sigInput, fr.sig, fr.digest, fr.ctype, fr.body)
	}
	f.Fuzz(func(t *testing.T, method, target, host, sigInput, sig, digest, ctype, body string) {
		fr := fuzzRequest{method, target, host, sigInput, sig, digest, ctype, body}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(fr.wire())))
		if err != nil {
			return // not a request net/http would hand to a handler
		}
		v, err := signature.New(keys, signature.WithClock(func() time.Time { return start }), signature.WithMaxBodyBytes(1<<10))
		if err != nil {
			t.Fatal(err)
		}
		var seen string
		called := false
		h := v.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			seen, called = covered(r, string(b)), true
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch {
		case called && rec.Code == http.StatusOK:
			if !signed[seen] {
				t.Fatalf("HTTPMiddleware(%q) let through a request no seed signed: %q", fr.wire(), seen)
			}
		case called:
			t.Fatalf("HTTPMiddleware(%q) = %d after calling the handler, want 200", fr.wire(), rec.Code)
		case rec.Code == http.StatusUnauthorized && rec.Body.String() == refusal:
		case rec.Code == http.StatusRequestEntityTooLarge && rec.Body.String() == tooLarge:
		default:
			t.Fatalf("HTTPMiddleware(%q) = %d %q, want 401 %q or 413", fr.wire(), rec.Code, rec.Body.String(), refusal)
		}
	})
}
