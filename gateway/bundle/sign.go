package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Signature errors. Verify wraps exactly one of them, so callers tell the
// cases apart with errors.Is.
var (
	// ErrUnsigned means the bundle has no signature but one is required.
	ErrUnsigned = errors.New("bundle is not signed")
	// ErrUntrustedKey means the signature names a key that is not trusted.
	ErrUntrustedKey = errors.New("bundle is signed by an untrusted key")
	// ErrBadSignature means the signature does not match the bundle (the
	// bundle or the signature was altered) or is malformed.
	ErrBadSignature = errors.New("bundle signature is invalid")
)

// SigSuffix is appended to a bundle's file name or URL to find its
// detached signature: bundle.yaml is signed by bundle.yaml.sig.
const SigSuffix = ".sig"

// AlgEd25519 is the only signature algorithm.
const AlgEd25519 = "ed25519"

// maxSigBytes bounds a signature document (it is ~150 bytes).
const maxSigBytes = 4 << 10

// sigDoc is the signature document stored as FILE.sig:
//
//	{"alg":"ed25519","key_id":"3f9a0c1d2e4b5a69","sig":"<base64 of 64 bytes>"}
//
// The signature covers the bundle file's bytes exactly as stored.
type sigDoc struct {
	Alg   string `json:"alg"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"`
}

// GenerateKey returns a new Ed25519 key pair for signing bundles.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: generate key: %w", err)
	}
	return pub, priv, nil
}

// KeyID names a public key without revealing anything: the hex of the
// first 8 bytes of SHA-256 over the raw 32-byte key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Sign returns the detached signature document for data (the bundle file's
// bytes), to be stored next to the bundle as FILE.sig. It panics if key is
// not a valid Ed25519 private key, like ed25519.Sign.
func Sign(data []byte, key ed25519.PrivateKey) []byte {
	pub, _ := key.Public().(ed25519.PublicKey)
	doc := sigDoc{Alg: AlgEd25519, KeyID: KeyID(pub), Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, data))}
	out, _ := json.Marshal(doc) // cannot fail: three strings
	return append(out, '\n')
}

// Verify checks that sig is a valid signature of data by one of the
// trusted keys. An empty sig wraps ErrUnsigned; a signature by a key not
// in trusted (or an empty trusted list) wraps ErrUntrustedKey; a malformed
// document or a signature that does not match data wraps ErrBadSignature.
// After a nil error, SignatureKeyID(sig) is the id of the key that signed.
func Verify(data, sig []byte, trusted []ed25519.PublicKey) error {
	if len(bytes.TrimSpace(sig)) == 0 {
		return fmt.Errorf("bundle: %w (sign it with `portcullis policy sign`)", ErrUnsigned)
	}
	if len(sig) > maxSigBytes {
		return fmt.Errorf("bundle: %w: signature document larger than %d bytes", ErrBadSignature, maxSigBytes)
	}
	var doc sigDoc
	dec := json.NewDecoder(bytes.NewReader(sig))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("bundle: %w: malformed signature document: %v", ErrBadSignature, err)
	}
	if doc.Alg != AlgEd25519 {
		return fmt.Errorf("bundle: %w: algorithm %q (want %q)", ErrBadSignature, doc.Alg, AlgEd25519)
	}
	raw, err := base64.StdEncoding.DecodeString(doc.Sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return fmt.Errorf("bundle: %w: sig is not the base64 of %d bytes", ErrBadSignature, ed25519.SignatureSize)
	}
	for _, pub := range trusted {
		if KeyID(pub) != doc.KeyID {
			continue
		}
		if !ed25519.Verify(pub, data, raw) {
			return fmt.Errorf("bundle: %w: key %s did not sign this content (bundle or signature altered)", ErrBadSignature, doc.KeyID)
		}
		return nil
	}
	return fmt.Errorf("bundle: %w: key %s is not among the %d trusted keys", ErrUntrustedKey, doc.KeyID, len(trusted))
}

// SignatureKeyID returns the key id a signature document names, without
// verifying it, or "" when sig is empty or malformed.
func SignatureKeyID(sig []byte) string {
	var doc sigDoc
	if json.Unmarshal(sig, &doc) != nil {
		return ""
	}
	return doc.KeyID
}
