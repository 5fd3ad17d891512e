package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/client/sign"
)

const devSignUsage = `usage: portcullis dev sign --key FILE --keyid ID [--content-type T] METHOD URL [BODY]

Signs one REST request with HTTP Message Signatures (RFC 9421), as
client/sign does, and prints the header fields to add, one per line, for
curl -H @FILE:

  curl -H 'Content-Type: application/json' \
       -H @<(portcullis dev sign --key k.pem --keyid k1 --content-type application/json POST "$URL" "$BODY") \
       -d "$BODY" "$URL"

The key is a PEM private key (Ed25519 or P-256) whose public key a bundle's
signing_keys binds to the caller. A signature is good for one request,
within five minutes. For development and demos; programs use client/sign.
`

// runDevSign implements `portcullis dev sign`.
func runDevSign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, devSignUsage) }
	keyFile := fs.String("key", "", "PEM private key (required)")
	keyID := fs.String("keyid", "", "the key's id in the bundle's signing_keys (required)")
	contentType := fs.String("content-type", "", "the Content-Type the request is sent with, if any")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *keyFile == "" || *keyID == "" || fs.NArg() < 2 || fs.NArg() > 3 {
		fs.Usage()
		return 2
	}
	key, err := readSigningKey(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis dev sign:", err)
		return 1
	}
	signer, err := sign.NewHTTPSigner(*keyID, key)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis dev sign:", err)
		return 1
	}
	var body io.Reader
	if fs.NArg() == 3 {
		body = strings.NewReader(fs.Arg(2))
	}
	req, err := http.NewRequest(strings.ToUpper(fs.Arg(0)), fs.Arg(1), body)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis dev sign:", err)
		return 2
	}
	if *contentType != "" {
		req.Header.Set("Content-Type", *contentType)
	}
	if err := signer.Sign(req); err != nil {
		fmt.Fprintln(stderr, "portcullis dev sign:", err)
		return 1
	}
	for _, k := range []string{"Content-Digest", "Signature-Input", "Signature"} {
		if v := req.Header.Get(k); v != "" {
			fmt.Fprintf(stdout, "%s: %s\n", k, v)
		}
	}
	return 0
}

// readSigningKey reads a PKCS#8 PEM private key that can sign requests.
func readSigningKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: want a PEM \"PRIVATE KEY\" (PKCS#8) block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T cannot sign", path, k)
	}
	return s, nil
}

// demoSigningKey creates (once) the demo teller's request-signing key,
// dir/teller-signing-key.pem, and returns the PEM of its public key for
// the bundle.
func demoSigningKey(dir string) (string, error) {
	path := filepath.Join(dir, "teller-signing-key.pem")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return "", err
		}
	}
	key, err := readSigningKey(path)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}
