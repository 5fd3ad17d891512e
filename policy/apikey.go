package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"
)

// API keys have the form "pcs_<id>_<secret>": a 12-character lower-case
// base32 id that is safe to log, and a 43-character base64url secret
// (32 random bytes).
const (
	APIKeyPrefix    = "pcs_"
	apiKeyIDLen     = 12
	apiKeySecretLen = 43
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformedAPIKey is returned by ParseAPIKey for anything that is not a
// well-formed key.
var ErrMalformedAPIKey = errors.New("policy: malformed API key")

// ParseAPIKey splits a presented key into its id and secret.
func ParseAPIKey(key string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok || len(rest) != apiKeyIDLen+1+apiKeySecretLen || rest[apiKeyIDLen] != '_' {
		return "", "", ErrMalformedAPIKey
	}
	id, secret = rest[:apiKeyIDLen], rest[apiKeyIDLen+1:]
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", "", ErrMalformedAPIKey
		}
	}
	for i := 0; i < len(secret); i++ { // base64url alphabet only (the decoder would skip CR/LF)
		c := secret[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", ErrMalformedAPIKey
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", ErrMalformedAPIKey
	}
	return id, secret, nil
}

// HashAPIKey returns the stored hash of a key's secret. The secret is 256
// random bits, so a fast hash is enough: there is nothing to brute-force.
func HashAPIKey(id, secret string) [32]byte {
	h := sha256.New()
	h.Write([]byte("portcullis-api-key:"))
	h.Write([]byte(id))
	h.Write([]byte(":"))
	h.Write([]byte(secret))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// NewAPIKey generates a key. It returns the full key (give it to the
// client once) and its id and hash (store these in the bundle).
func NewAPIKey() (key, id string, hash [32]byte, err error) {
	var idRaw [8]byte
	var secretRaw [32]byte
	if _, err = rand.Read(idRaw[:]); err != nil {
		return "", "", hash, err
	}
	if _, err = rand.Read(secretRaw[:]); err != nil {
		return "", "", hash, err
	}
	id = idEncoding.EncodeToString(idRaw[:])[:apiKeyIDLen]
	secret := base64.RawURLEncoding.EncodeToString(secretRaw[:])
	return APIKeyPrefix + id + "_" + secret, id, HashAPIKey(id, secret), nil
}
