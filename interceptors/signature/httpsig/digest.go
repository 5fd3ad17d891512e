package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Content digest algorithms (RFC 9530 §5).
const (
	DigestSHA256 = "sha-256"
	DigestSHA512 = "sha-512"
)

// ErrDigestMismatch is returned by VerifyContentDigest when a digest does
// not match the content.
var ErrDigestMismatch = errors.New("httpsig: content digest does not match the content")

func sum(alg string, content []byte) ([]byte, bool) {
	switch alg {
	case DigestSHA256:
		s := sha256.Sum256(content)
		return s[:], true
	case DigestSHA512:
		s := sha512.Sum512(content)
		return s[:], true
	}
	return nil, false
}

// ContentDigest returns the Content-Digest field value for content with
// alg (DigestSHA256 or DigestSHA512), e.g. "sha-256=:…:".
func ContentDigest(alg string, content []byte) (string, error) {
	s, ok := sum(alg, content)
	if !ok {
		return "", fmt.Errorf("httpsig: unsupported digest algorithm %q", alg)
	}
	return FormatBytes(alg, s)
}

// VerifyContentDigest checks a Content-Digest field value against content.
// The value must hold a sha-256 or sha-512 digest, and every sha-256 and
// sha-512 digest it holds must match (compared in constant time); members
// with other algorithms are ignored, as RFC 9530 allows, but never count.
func VerifyContentDigest(field string, content []byte) error {
	ds, err := parseByteDictionary(field)
	if err != nil {
		return err
	}
	checked := 0
	for alg, d := range ds {
		want, ok := sum(alg, content)
		if !ok {
			continue
		}
		if subtle.ConstantTimeCompare(want, d) != 1 {
			return ErrDigestMismatch
		}
		checked++
	}
	if checked == 0 {
		return errors.New("httpsig: content digest has no sha-256 or sha-512 member")
	}
	return nil
}
