package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Algorithm is an RFC 9421 signature algorithm name (the alg parameter).
type Algorithm string

// The algorithms Portcullis signs and verifies (RFC 9421 §3.3). RSA is not
// offered: its keys are large and its padding choices easy to get wrong.
const (
	// Ed25519 is EdDSA over edwards25519 (RFC 8032), 64-byte signatures.
	Ed25519 Algorithm = "ed25519"
	// ECDSAP256SHA256 is ECDSA over P-256 with SHA-256; the signature is
	// r‖s, 32 bytes each (not ASN.1).
	ECDSAP256SHA256 Algorithm = "ecdsa-p256-sha256"
	// HMACSHA256 is HMAC with SHA-256 and a shared secret of at least
	// MinHMACKeyBytes bytes.
	HMACSHA256 Algorithm = "hmac-sha256"
)

// MinHMACKeyBytes is the shortest HMAC secret accepted (256 bits).
const MinHMACKeyBytes = 32

// ErrBadSignature is returned by Verify for a signature that does not
// verify (as opposed to unusable keys or algorithms).
var ErrBadSignature = errors.New("httpsig: signature does not verify")

// ParseAlgorithm returns the Algorithm named s, or an error for any other
// name.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case Ed25519, ECDSAP256SHA256, HMACSHA256:
		return a, nil
	}
	return "", fmt.Errorf("httpsig: unsupported algorithm %q", s)
}

// AlgorithmOf returns the algorithm a key is used with: an ed25519 key
// (private, public or a crypto.Signer whose public key is one), a P-256
// ECDSA key (the same forms), or a []byte HMAC secret.
func AlgorithmOf(key any) (Algorithm, error) {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return Ed25519, nil
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return ECDSAP256SHA256, nil
		}
	case []byte:
		if len(k) >= MinHMACKeyBytes {
			return HMACSHA256, nil
		}
		return "", fmt.Errorf("httpsig: HMAC secret of %d bytes, want at least %d", len(k), MinHMACKeyBytes)
	}
	return "", fmt.Errorf("httpsig: unsupported key type %T", key)
}

// Sign signs base with key using alg. key is a crypto.Signer (for
// ed25519 and ecdsa-p256-sha256, e.g. ed25519.PrivateKey, *ecdsa.PrivateKey
// or a KMS-backed signer) or a []byte secret (hmac-sha256); AlgorithmOf(key)
// must be alg.
func Sign(alg Algorithm, key any, base []byte) ([]byte, error) {
	got, err := AlgorithmOf(key)
	if err != nil {
		return nil, err
	}
	if got != alg {
		return nil, fmt.Errorf("httpsig: key is for %s, not %s", got, alg)
	}
	switch alg {
	case HMACSHA256:
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(base)
		return m.Sum(nil), nil
	case Ed25519:
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, errors.New("httpsig: ed25519 signing needs a private key")
		}
		return s.Sign(rand.Reader, base, crypto.Hash(0))
	default: // ECDSAP256SHA256
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, errors.New("httpsig: ecdsa signing needs a private key")
		}
		h := sha256.Sum256(base)
		der, err := s.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
			return nil, errors.New("httpsig: ecdsa signer returned a malformed signature")
		}
		out := make([]byte, 64)
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return out, nil
	}
}

// Verify checks sig over base with key using alg. key is an
// ed25519.PublicKey, a P-256 *ecdsa.PublicKey or a []byte secret, and must
// be a key for alg. A signature that does not verify gives ErrBadSignature;
// HMAC signatures are compared in constant time.
func Verify(alg Algorithm, key any, base, sig []byte) error {
	if _, ok := key.(crypto.Signer); ok {
		return errors.New("httpsig: verify with a public key, not a private one")
	}
	got, err := AlgorithmOf(key)
	if err != nil {
		return err
	}
	if got != alg {
		return fmt.Errorf("httpsig: key is for %s, not %s", got, alg)
	}
	ok := false
	switch alg {
	case HMACSHA256:
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(base)
		ok = hmac.Equal(m.Sum(nil), sig)
	case Ed25519:
		ok = len(sig) == ed25519.SignatureSize && ed25519.Verify(key.(ed25519.PublicKey), base, sig)
	case ECDSAP256SHA256:
		if len(sig) == 64 {
			h := sha256.Sum256(base)
			der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
			ok = err == nil && ecdsa.VerifyASN1(key.(*ecdsa.PublicKey), h[:], der)
		}
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}
