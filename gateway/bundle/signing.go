package bundle

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// signingKey is the YAML shape of one request-signing public key:
//
//	signing_keys:
//	  - id: teller-1-2026
//	    principal: teller-1
//	    public_key: |
//	      -----BEGIN PUBLIC KEY-----
//	      MCowBQYDK2VwAyEA…
//	      -----END PUBLIC KEY-----
//	    expires: 2027-06-01T00:00:00Z
type signingKey struct {
	ID        string `yaml:"id"`
	Principal string `yaml:"principal"`
	// Algorithm is optional; when set it must match the key.
	Algorithm string `yaml:"algorithm"`
	PublicKey string `yaml:"public_key"`
	Expires   string `yaml:"expires"`
	Disabled  bool   `yaml:"disabled"`
}

// signingKeyID is the keyid syntax: printable, no quotes or spaces, so it
// sits in a Signature-Input parameter unescaped.
var signingKeyID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Signing algorithm names (RFC 9421 §6.2.2).
const (
	algEd25519   = "ed25519"
	algECDSAP256 = "ecdsa-p256-sha256"
)

func (v *validator) signingKeys(b *policy.Bundle, f *file) {
	for i, k := range f.Signing {
		at := fmt.Sprintf("$.signing_keys[%d]", i)
		if key := v.signingKey(at, k); key != nil {
			if _, dup := b.SigningKeys[key.ID]; dup {
				v.fail(at+".id", "signing key %q listed twice", key.ID)
				continue
			}
			b.SigningKeys[key.ID] = key
		}
	}
}

func (v *validator) signingKey(at string, k signingKey) *policy.SigningKey {
	ok := true
	if !signingKeyID.MatchString(k.ID) {
		v.fail(at+".id", "invalid signing key id %q (1 to 128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit)", k.ID)
		ok = false
	}
	if strings.TrimSpace(k.Principal) == "" {
		v.fail(at, "principal is required: the only principal whose calls the key may sign")
		ok = false
	}
	pub, alg, err := parsePublicKey(k.PublicKey)
	if err != nil {
		v.fail(at+".public_key", "%v", err)
		ok = false
	} else if k.Algorithm != "" && k.Algorithm != alg {
		v.fail(at+".algorithm", "algorithm %q does not match the public key (%s)", k.Algorithm, alg)
		ok = false
	}
	out := &policy.SigningKey{ID: k.ID, Algorithm: alg, Public: pub, Principal: k.Principal, Disabled: k.Disabled}
	if k.Expires != "" {
		t, err := time.Parse(time.RFC3339, k.Expires)
		if err != nil {
			v.fail(at+".expires", "invalid time %q (RFC 3339, e.g. 2027-01-01T00:00:00Z)", k.Expires)
			ok = false
		}
		out.ExpiresAt = t
	}
	if !ok {
		return nil
	}
	return out
}

// parsePublicKey reads one PEM "PUBLIC KEY" block (SubjectPublicKeyInfo)
// holding an Ed25519 or P-256 ECDSA key.
func parsePublicKey(s string) (any, string, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block != nil && strings.Contains(block.Type, "PRIVATE") {
		return nil, "", fmt.Errorf("this is a private key: a bundle holds only the public key (`openssl pkey -pubout`); treat the private key as leaked")
	}
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, "", fmt.Errorf(`want one PEM "PUBLIC KEY" block (SubjectPublicKeyInfo), e.g. from ` + "`openssl pkey -pubout`")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, "", fmt.Errorf("want exactly one PEM block, found more")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("not a public key: %v", err)
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return k, algEd25519, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("ECDSA key on %s: only P-256 (ecdsa-p256-sha256) is supported", k.Curve.Params().Name)
		}
		return k, algECDSAP256, nil
	}
	return nil, "", fmt.Errorf("a %T key cannot sign requests: use Ed25519 or ECDSA P-256", pub)
}
