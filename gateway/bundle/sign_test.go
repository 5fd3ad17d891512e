package bundle

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPub, otherPriv, _ := GenerateKey()
	data := []byte("version: v1\n")
	sig := Sign(data, priv)
	flipped := tamperSig(t, sig)
	tests := []struct {
		name    string
		data    []byte
		sig     []byte
		trusted []ed25519.PublicKey
		want    error // nil: valid
	}{
		{"valid", data, sig, []ed25519.PublicKey{pub}, nil},
		{"valid among several", data, sig, []ed25519.PublicKey{otherPub, pub}, nil},
		{"unsigned", data, nil, []ed25519.PublicKey{pub}, ErrUnsigned},
		{"empty signature file", data, []byte("\n"), []ed25519.PublicKey{pub}, ErrUnsigned},
		{"wrong key", data, Sign(data, otherPriv), []ed25519.PublicKey{pub}, ErrUntrustedKey},
		{"no trusted keys", data, sig, nil, ErrUntrustedKey},
		{"tampered bundle", []byte("version: v2\n"), sig, []ed25519.PublicKey{pub}, ErrBadSignature},
		{"tampered signature", data, flipped, []ed25519.PublicKey{pub}, ErrBadSignature},
		{"malformed document", data, []byte("not json"), []ed25519.PublicKey{pub}, ErrBadSignature},
		{"unknown field", data, bytes.Replace(sig, []byte(`{`), []byte(`{"x":1,`), 1), []ed25519.PublicKey{pub}, ErrBadSignature},
		{"other algorithm", data, bytes.Replace(sig, []byte(AlgEd25519), []byte("rsa"), 1), []ed25519.PublicKey{pub}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.data, tt.sig, tt.trusted)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
	if got, want := SignatureKeyID(sig), KeyID(pub); got != want || len(got) != 16 {
		t.Errorf("SignatureKeyID() = %q, want %q (16 hex digits)", got, want)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := GenerateKey()
	privPath, pubPath := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "signing.pub")
	if err := WritePrivateKey(privPath, priv); err != nil {
		t.Fatalf("WritePrivateKey() = %v, want nil", err)
	}
	if err := WritePublicKey(pubPath, pub); err != nil {
		t.Fatalf("WritePublicKey() = %v, want nil", err)
	}
	if err := WritePrivateKey(privPath, priv); err == nil {
		t.Errorf("WritePrivateKey(existing) = nil, want an error (never overwrite a key)")
	}
	gotPriv, err := ReadPrivateKey(privPath)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("ReadPrivateKey() = %v, %v, want the written key", gotPriv, err)
	}
	gotPub, err := ReadPublicKey(pubPath)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("ReadPublicKey() = %v, %v, want the written key", gotPub, err)
	}
	if err := Verify([]byte("x"), Sign([]byte("x"), gotPriv), []ed25519.PublicKey{gotPub}); err != nil {
		t.Errorf("Verify(after round trip) = %v, want nil", err)
	}
	if _, err := ParsePrivateKey(mustRead(t, pubPath)); err == nil {
		t.Errorf("ParsePrivateKey(public key PEM) = nil error, want an error")
	}
	if _, err := ParsePublicKey([]byte("garbage")); err == nil {
		t.Errorf("ParsePublicKey(garbage) = nil error, want an error")
	}
	if runtime.GOOS == "windows" {
		return
	}
	tests := []struct {
		name string
		path string
		mode os.FileMode
		read func(string) error
		want string // "" = accepted
	}{
		{"private 0600", privPath, 0o600, readPriv, ""},
		{"private world-readable", privPath, 0o604, readPriv, "mode 0604: refusing a key file that group or others can read or write (fix: chmod 600"},
		{"private group-readable", privPath, 0o640, readPriv, "refusing a key file"},
		{"public world-readable", pubPath, 0o644, readPub, ""},
		{"public world-writable", pubPath, 0o646, readPub, "refusing a key file that group or others can write (fix: chmod 644"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.Chmod(tt.path, tt.mode); err != nil {
				t.Fatal(err)
			}
			err := tt.read(tt.path)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("read(%s, %04o) = %v, want %q", filepath.Base(tt.path), tt.mode, err, tt.want)
			}
		})
	}
}

// tamperSig flips one bit of the signature inside a signature document.
func tamperSig(t *testing.T, sig []byte) []byte {
	t.Helper()
	var doc sigDoc
	if err := json.Unmarshal(sig, &doc); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(doc.Sig)
	raw[0] ^= 1
	doc.Sig = base64.StdEncoding.EncodeToString(raw)
	out, _ := json.Marshal(doc)
	return out
}

func readPriv(p string) error { _, err := ReadPrivateKey(p); return err }
func readPub(p string) error  { _, err := ReadPublicKey(p); return err }

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
