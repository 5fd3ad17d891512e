package bundle

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// PEM block types of key files.
const (
	pemPrivate = "PRIVATE KEY" // PKCS #8
	pemPublic  = "PUBLIC KEY"  // PKIX
)

// maxKeyFileBytes bounds a key file.
const maxKeyFileBytes = 16 << 10

// MarshalPrivateKey encodes key as a PEM "PRIVATE KEY" block (PKCS #8).
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("bundle: private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// MarshalPublicKey encodes pub as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("bundle: public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

// ParsePrivateKey decodes a PEM PKCS #8 Ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	der, err := pemBlock(data, pemPrivate)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("bundle: private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("bundle: private key is %T, want an Ed25519 key", k)
	}
	return priv, nil
}

// ParsePublicKey decodes a PEM PKIX Ed25519 public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	der, err := pemBlock(data, pemPublic)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("bundle: public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("bundle: public key is %T, want an Ed25519 key", k)
	}
	return pub, nil
}

func pemBlock(data []byte, typ string) ([]byte, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("bundle: no PEM %q block", typ)
	}
	if b.Type != typ {
		return nil, fmt.Errorf("bundle: PEM block is %q, want %q", b.Type, typ)
	}
	return b.Bytes, nil
}

// ReadPrivateKey reads a private key file. It refuses a file that group or
// others may read or write (like ssh): a signing key readable by others is
// a key anyone on the machine can sign bundles with.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := readKeyFile(path, 0o077, "private key", "chmod 600")
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// ReadPublicKey reads a trusted public key file. It refuses a file that
// group or others may write: whoever can replace a trusted key can have
// the gateway accept their bundles. (A public key may be readable by all.)
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := readKeyFile(path, 0o022, "trusted public key", "chmod 644")
	if err != nil {
		return nil, err
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// WritePrivateKey writes key to a new file readable by its owner only. It
// fails if the file exists.
func WritePrivateKey(path string, key ed25519.PrivateKey) error {
	data, err := MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	return writeNew(path, data, 0o600)
}

// WritePublicKey writes pub to a new file (mode 0644). It fails if the
// file exists.
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	data, err := MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	return writeNew(path, data, 0o644)
}

// readKeyFile opens path, refuses it when its mode has any of the bits in
// forbidden (checked on the open file, so a swap after the check does not
// matter), and reads it.
func readKeyFile(path string, forbidden fs.FileMode, what, fix string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", what, err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to flush
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("bundle: %s %s is not a regular file", what, path)
	}
	// Windows has no Unix permission bits; Go reports 0666 for every
	// writable file there, so the check would refuse everything.
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&forbidden != 0 {
		return nil, fmt.Errorf("bundle: %s %s has mode %04o: refusing a key file that group or others can %s (fix: %s %s)",
			what, path, perm, access(forbidden), fix, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", what, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("bundle: %s %s is larger than %d bytes", what, path, maxKeyFileBytes)
	}
	return data, nil
}

func access(forbidden fs.FileMode) string {
	if forbidden&0o044 != 0 {
		return "read or write"
	}
	return "write"
}

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("bundle: write key: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("bundle: write key %s: %w", path, err)
	}
	return nil
}
