package assertion_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/assertion"
)

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// TestKeyPEM loads keys: the first block signs, the others stay published,
// and the same key gets the same kid in every replica.
func TestKeyPEM(t *testing.T) {
	ed, err := assertion.GenerateKey(assertion.EdDSA)
	if err != nil {
		t.Fatalf("GenerateKey(EdDSA) = %v", err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	ecPEM := pemOf(t, "EC PRIVATE KEY", sec1)

	a := newSigner(t, assertion.Config{Issuer: gatewayID, KeyPEM: ed})
	b := newSigner(t, assertion.Config{Issuer: gatewayID, KeyPEM: ed})
	if a.KeyID() != b.KeyID() {
		t.Errorf("KeyID() of two signers of one key = %s, %s, want equal", a.KeyID(), b.KeyID())
	}
	// New key first, previous key second: the rotation of a replica set.
	both := newSigner(t, assertion.Config{Issuer: gatewayID, KeyPEM: append(append([]byte{}, ecPEM...), ed...)})
	if both.KeyID() == a.KeyID() {
		t.Errorf("KeyID() = the second block's kid, want the first's")
	}
	old, err := a.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, both)
	if _, err := v.Verify(testContext(t), method, old); err != nil {
		t.Errorf("Verify(assertion of the second, published key) = %v, want nil", err)
	}
	cur, _ := both.Sign(alice)
	if _, err := v.Verify(testContext(t), method, cur); err != nil {
		t.Errorf("Verify(assertion of the current ES256 key) = %v, want nil", err)
	}
}

func TestKeyFile(t *testing.T) {
	key, _ := assertion.GenerateKey(assertion.ES256)
	dir := t.TempDir()
	good := filepath.Join(dir, "assertion.pem")
	loose := filepath.Join(dir, "loose.pem")
	for path, perm := range map[string]os.FileMode{good: 0o600, loose: 0o644} {
		if err := os.WriteFile(path, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
	}
	s := newSigner(t, assertion.Config{Issuer: gatewayID, KeyFile: good})
	if _, err := s.Sign(alice); err != nil {
		t.Errorf("Sign() with a key file = %v, want nil", err)
	}
	_, err := assertion.New(assertion.Config{Issuer: gatewayID, KeyFile: loose})
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+loose) {
		t.Errorf("New(0644 key file) = %v, want an error saying chmod 600 %s", err, loose)
	}
}

func TestConfigErrors(t *testing.T) {
	ed, _ := assertion.GenerateKey(assertion.EdDSA)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	for _, tt := range []struct {
		name string
		cfg  assertion.Config
		want string
	}{
		{"no issuer", assertion.Config{}, "issuer: required"},
		{"lifetime too long", assertion.Config{Issuer: gatewayID, Lifetime: time.Hour}, "lifetime"},
		{"negative lifetime", assertion.Config{Issuer: gatewayID, Lifetime: -time.Second}, "lifetime"},
		{"fractional lifetime", assertion.Config{Issuer: gatewayID, Lifetime: 1500 * time.Millisecond}, "whole seconds"},
		{"HS256", assertion.Config{Issuer: gatewayID, Algorithm: "HS256"}, `algorithm: "HS256"`},
		{"both key sources", assertion.Config{Issuer: gatewayID, KeyPEM: ed, KeyFile: "/x"}, "at most one"},
		{"not PEM", assertion.Config{Issuer: gatewayID, KeyPEM: []byte("hunter2")}, "no PEM private key"},
		{"certificate", assertion.Config{Issuer: gatewayID, KeyPEM: pemOf(t, "CERTIFICATE", []byte("x"))}, `type "CERTIFICATE"`},
		{"corrupt key", assertion.Config{Issuer: gatewayID, KeyPEM: pemOf(t, "PRIVATE KEY", []byte("hunter2"))}, "not a valid private key"},
		{"RSA key", assertion.Config{Issuer: gatewayID, KeyPEM: pemOf(t, "PRIVATE KEY", rsaDER)}, "only Ed25519 and P-256"},
		{"P-384 key", assertion.Config{Issuer: gatewayID, KeyPEM: pemOf(t, "PRIVATE KEY", p384DER)}, "only P-256"},
		{"algorithm mismatch", assertion.Config{Issuer: gatewayID, KeyPEM: ed, Algorithm: assertion.ES256}, "current key is EdDSA"},
		{"duplicate key", assertion.Config{Issuer: gatewayID, KeyPEM: append(append([]byte{}, ed...), ed...)}, "appears twice"},
		{"missing key file", assertion.Config{Issuer: gatewayID, KeyFile: filepath.Join(t.TempDir(), "none.pem")}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := assertion.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "assertion: ") {
				t.Fatalf("New(%s) = %v, want an \"assertion: \" error containing %q", tt.name, err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("New(%s) = %q, quotes key material", tt.name, err)
			}
		})
	}
}

func TestRetire(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID})
	first := s.KeyID()
	if err := s.Retire(first); err == nil {
		t.Error("Retire(current key) = nil, want an error")
	}
	second, _ := s.Rotate()
	if err := s.Retire("nope"); err == nil {
		t.Error("Retire(unknown kid) = nil, want an error")
	}
	if err := s.Retire(first); err != nil {
		t.Errorf("Retire(previous key) = %v, want nil", err)
	}
	if err := s.Retire(first); err == nil {
		t.Error("Retire(already retired key) = nil, want an error")
	}
	if doc := string(s.JWKS()); strings.Contains(doc, first) || !strings.Contains(doc, second) {
		t.Errorf("JWKS() after Retire = %s, want only %s", doc, second)
	}
}
