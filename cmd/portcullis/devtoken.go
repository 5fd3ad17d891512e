package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// devIssuer is the demo's token issuer: an ES256 key kept in the demo
// directory, published as a JWK Set file the gateway reads. It is for
// local development only.
type devIssuer struct {
	issuer string
	key    *ecdsa.PrivateKey
	kid    string
}

const (
	devIssuerName = "https://issuer.portcullis.local"
	devAudience   = "portcullis-demo"
)

// loadDevIssuer reads (or creates) dir/issuer-key.pem and writes
// dir/jwks.json.
func loadDevIssuer(dir string) (*devIssuer, error) {
	path := filepath.Join(dir, "issuer-key.pem")
	var key *ecdsa.PrivateKey
	if raw, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, fmt.Errorf("dev issuer: %s: not PEM", path)
		}
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("dev issuer: %s: %w", path, err)
		}
		key = k
	} else if errors.Is(err, os.ErrNotExist) {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)[:16]
	set, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), set, 0o644); err != nil {
		return nil, err
	}
	return &devIssuer{issuer: devIssuerName, key: key, kid: pub.KeyID}, nil
}

// token signs a token for sub with extra claims, valid for ttl.
func (d *devIssuer) token(sub string, ttl time.Duration, extra map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: d.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", d.kid))
	if err != nil {
		return "", err
	}
	now := time.Now()
	std := jwt.Claims{Issuer: d.issuer, Subject: sub, Audience: jwt.Audience{devAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl)),
		ID: randomID()}
	return jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
}

// certThumbprint returns the RFC 8705 x5t#S256 value of a PEM certificate.
func certThumbprint(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return "", fmt.Errorf("%s: not PEM", path)
	}
	sum := sha256.Sum256(block.Bytes)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
