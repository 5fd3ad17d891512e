package httpsig_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// The vectors of RFC 9421 Appendix B (files in testdata/rfc9421).
type vector struct {
	name     string // RFC section
	message  string // file holding the message
	input    string // Signature-Input value
	sig      string // Signature value ("" for RSA-PSS vectors, base only)
	base     string // file holding the exact signature base
	key      string // verification key: "ecc", "ed25519", "hmac" or "" (RSA, not verified)
	fixedSig bool   // deterministic algorithm: Sign must reproduce sig
}

var vectors = []vector{
	{name: "B.2.1", message: "test-request.http", base: "b21.base",
		input: `sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"`},
	{name: "B.2.3", message: "test-request.http", base: "b23.base",
		input: `sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"`},
	{name: "B.2.4", message: "test-response.http", base: "b24.base", key: "ecc",
		input: `sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"`,
		sig:   `sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==:`},
	{name: "B.2.5", message: "test-request.http", base: "b25.base", key: "hmac", fixedSig: true,
		input: `sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`,
		sig:   `sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:`},
	{name: "B.2.6", message: "test-request.http", base: "b26.base", key: "ed25519", fixedSig: true,
		input: `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
		sig:   `sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`},
	{name: "B.3", message: "proxy-request.http", base: "b3.base", key: "ecc"},
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc9421", name))
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v", name, err)
	}
	return b
}

// message parses a vector's message; its Signature-Input and Signature
// fields are the vector's unless the message carries its own.
func message(t *testing.T, v vector) (http.Header, httpsig.Resolver, []byte) {
	t.Helper()
	raw := readFile(t, v.message)
	var h http.Header
	var resolve httpsig.Resolver
	var body []byte
	if strings.HasPrefix(string(raw), "HTTP/") {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("ReadResponse(%s) = %v", v.message, err)
		}
		body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		h, resolve = resp.Header, httpsig.ResponseResolver(resp)
	} else {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("ReadRequest(%s) = %v", v.message, err)
		}
		body, _ = io.ReadAll(req.Body)
		h, resolve = req.Header, httpsig.RequestResolver(req)
	}
	if v.input != "" {
		h.Set("Signature-Input", v.input)
	}
	if v.sig != "" {
		h.Set("Signature", v.sig)
	}
	return h, resolve, body
}

func key(t *testing.T, name string, private bool) any {
	t.Helper()
	if name == "hmac" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(readFile(t, "test-shared-secret.b64"))))
		if err != nil {
			t.Fatalf("decode test-shared-secret: %v", err)
		}
		return k
	}
	file := map[string]string{"ecc": "test-key-ecc-p256", "ed25519": "test-key-ed25519"}[name]
	if !private {
		file += ".pub"
	}
	blk, _ := pem.Decode(readFile(t, file+".pem"))
	if blk == nil {
		t.Fatalf("pem.Decode(%s) = nil", file)
	}
	var k any
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return k
}

// parsed returns the vector's one Signature-Input entry and its signature.
func parsed(t *testing.T, h http.Header) (*httpsig.Input, []byte) {
	t.Helper()
	ins, err := httpsig.ParseSignatureInput(h.Get("Signature-Input"))
	if err != nil || len(ins) != 1 {
		t.Fatalf("ParseSignatureInput(%q) = %v, %v, want one entry", h.Get("Signature-Input"), ins, err)
	}
	var sig []byte
	if s := h.Get("Signature"); s != "" {
		sigs, err := httpsig.ParseSignatures(s)
		if err != nil {
			t.Fatalf("ParseSignatures(%q) = %v", s, err)
		}
		sig = sigs[ins[0].Label]
	}
	return ins[0], sig
}

func TestRFC9421SignatureBase(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			h, resolve, _ := message(t, v)
			in, _ := parsed(t, h)
			got, err := httpsig.Base(in, resolve)
			if want := readFile(t, v.base); err != nil || !bytes.Equal(got, want) {
				t.Errorf("Base(%s) = %q, %v, want %q", v.name, got, err, want)
			}
		})
	}
}

func TestRFC9421Verify(t *testing.T) {
	for _, v := range vectors {
		if v.key == "" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			h, resolve, _ := message(t, v)
			in, sig := parsed(t, h)
			base, err := httpsig.Base(in, resolve)
			if err != nil {
				t.Fatalf("Base(%s) = %v", v.name, err)
			}
			k := key(t, v.key, false)
			alg, err := httpsig.AlgorithmOf(k)
			if err != nil {
				t.Fatalf("AlgorithmOf(%s) = %v", v.key, err)
			}
			if err := httpsig.Verify(alg, k, base, sig); err != nil {
				t.Errorf("Verify(%s, %s) = %v, want nil", v.name, alg, err)
			}
			// One flipped bit of the base must not verify.
			base[0] ^= 1
			if err := httpsig.Verify(alg, k, base, sig); !errors.Is(err, httpsig.ErrBadSignature) {
				t.Errorf("Verify(%s, tampered base) = %v, want %v", v.name, err, httpsig.ErrBadSignature)
			}
		})
	}
}

func TestRFC9421SignReproducesDeterministicSignatures(t *testing.T) {
	for _, v := range vectors {
		if !v.fixedSig {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			h, resolve, _ := message(t, v)
			in, want := parsed(t, h)
			base, _ := httpsig.Base(in, resolve)
			k := key(t, v.key, true)
			alg, _ := httpsig.AlgorithmOf(k)
			got, err := httpsig.Sign(alg, k, base)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Sign(%s) = %x, %v, want %x", v.name, got, err, want)
			}
		})
	}
}

func TestRFC9421ECDSASignVerifies(t *testing.T) {
	priv := key(t, "ecc", true).(crypto.Signer)
	base := readFile(t, "b24.base")
	sig, err := httpsig.Sign(httpsig.ECDSAP256SHA256, priv, base)
	if err != nil || len(sig) != 64 {
		t.Fatalf("Sign(ecdsa) = %x, %v, want 64 bytes", sig, err)
	}
	if err := httpsig.Verify(httpsig.ECDSAP256SHA256, key(t, "ecc", false), base, sig); err != nil {
		t.Errorf("Verify(Sign(ecdsa)) = %v, want nil", err)
	}
}

func TestRFC9530ContentDigestOfTestMessages(t *testing.T) {
	for _, name := range []string{"test-request.http", "test-response.http"} {
		t.Run(name, func(t *testing.T) {
			h, _, body := message(t, vector{message: name})
			if err := httpsig.VerifyContentDigest(h.Get("Content-Digest"), body); err != nil {
				t.Errorf("VerifyContentDigest(%s) = %v, want nil", name, err)
			}
			if err := httpsig.VerifyContentDigest(h.Get("Content-Digest"), append(body, ' ')); !errors.Is(err, httpsig.ErrDigestMismatch) {
				t.Errorf("VerifyContentDigest(%s, body+1) = %v, want %v", name, err, httpsig.ErrDigestMismatch)
			}
			got, err := httpsig.ContentDigest(httpsig.DigestSHA512, body)
			if err != nil || got != h.Get("Content-Digest") {
				t.Errorf("ContentDigest(sha-512) = %q, %v, want %q", got, err, h.Get("Content-Digest"))
			}
		})
	}
}

// Changing the order of the covered components, or any covered value,
// breaks the RFC's Ed25519 signature.
func TestRFC9421TamperedB26(t *testing.T) {
	v := vectors[4]
	for _, tc := range []struct {
		name   string
		input  string
		mutate func(*http.Request)
	}{
		{name: "reordered", input: `sig-b26=("@method" "date" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`},
		{name: "created", input: `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884474;keyid="test-key-ed25519"`},
		{name: "path", mutate: func(r *http.Request) { r.URL.Path = "/bar" }},
		{name: "method", mutate: func(r *http.Request) { r.Method = "PUT" }},
		{name: "authority", mutate: func(r *http.Request) { r.Host = "evil.example" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(readFile(t, v.message))))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Signature-Input", v.input)
			if tc.input != "" {
				req.Header.Set("Signature-Input", tc.input)
			}
			req.Header.Set("Signature", v.sig)
			if tc.mutate != nil {
				tc.mutate(req)
			}
			in, sig := parsed(t, req.Header)
			base, err := httpsig.Base(in, httpsig.RequestResolver(req))
			if err != nil {
				t.Fatalf("Base() = %v", err)
			}
			if err := httpsig.Verify(httpsig.Ed25519, key(t, "ed25519", false), base, sig); !errors.Is(err, httpsig.ErrBadSignature) {
				t.Errorf("Verify(%s) = %v, want %v", tc.name, err, httpsig.ErrBadSignature)
			}
		})
	}
}

// B.2.2 uses "@query-param";name="Pet", a component parameter outside the
// supported subset: it is refused, not misread.
func TestRFC9421B22Refused(t *testing.T) {
	in := `sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"`
	if got, err := httpsig.ParseSignatureInput(in); !errors.Is(err, httpsig.ErrSyntax) {
		t.Errorf("ParseSignatureInput(B.2.2) = %v, %v, want %v", got, err, httpsig.ErrSyntax)
	}
}
