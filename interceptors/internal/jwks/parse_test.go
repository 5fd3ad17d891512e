package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// The two policies the interceptors use: an identity provider's keys
// (authn) and the gateway's published assertion keys (backend).
var (
	issuerPolicy = &Policy{
		Kty:        []string{"RSA", "EC", "OKP"},
		Algs:       []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA},
		MinRSABits: 2048,
	}
	assertionPolicy = &Policy{
		Kty:        []string{"OKP", "EC"},
		Algs:       []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256},
		Curves:     []string{"P-256"},
		RequireKID: true,
		UniqueKID:  true,
	}
)

func jwk(t *testing.T, key any, kid, alg, use string) string {
	t.Helper()
	b, err := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use}.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON(%s) = %v, want nil", kid, err)
	}
	return string(b)
}

// withMember adds "name": "AAAA" to a JWK object.
func withMember(j, name string) string {
	return j[:len(j)-1] + fmt.Sprintf(`,%q:"AAAA"}`, name)
}

func TestParsePolicies(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)

	const kept = ""
	for _, tt := range []struct {
		name              string
		jwk               string
		issuer, assertion string // the skip reason under each policy, or kept
	}{
		{"P-256 ES256", jwk(t, &p256.PublicKey, "a", "ES256", "sig"), kept, kept},
		{"Ed25519 no alg", jwk(t, ed, "a", "", ""), kept, kept},
		{"P-384", jwk(t, &p384.PublicKey, "a", "", ""), kept, "curve P-384 refused (only P-256)"},
		{"P-384 ES384", jwk(t, &p384.PublicKey, "a", "ES384", ""), kept, `alg "ES384" refused`},
		{"RSA 2048", jwk(t, &rsa2048.PublicKey, "a", "RS256", ""), kept, `kty "RSA" refused (only OKP and EC)`},
		{"RSA 1024", jwk(t, &rsa1024.PublicKey, "a", "", ""), "RSA key of 1024 bits refused (minimum 2048)", `kty "RSA" refused (only OKP and EC)`},
		{"no kid", jwk(t, &p256.PublicKey, "", "ES256", ""), kept, "no kid"},
		{"kid not a string", `{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":5}`, "", "not a JSON object"},
		{"oct", `{"kty":"oct","k":"c2VjcmV0","kid":"a"}`, `kty "oct" refused (only RSA, EC, OKP)`, `kty "oct" refused (only OKP and EC)`},
		{"EC private", jwk(t, p256, "a", "ES256", ""), "contains private key material", "contains private key material"},
		{"Ed25519 private", jwk(t, edPriv, "a", "", ""), "contains private key material", "contains private key material"},
		{"EC with an RSA private member", withMember(jwk(t, &p256.PublicKey, "a", "", ""), "qi"), "contains private key material", "contains private key material"},
		{"enc", jwk(t, &p256.PublicKey, "a", "ES256", "enc"), `use "enc" is not sig`, `use "enc" is not sig`},
		{"HS256", jwk(t, &p256.PublicKey, "a", "HS256", ""), `alg "HS256" refused`, `alg "HS256" refused`},
		{"not an object", `"nope"`, "not a JSON object", "not a JSON object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(`{"keys":[` + tt.jwk + `]}`)
			for _, pc := range []struct {
				name string
				p    *Policy
				want string
			}{{"issuer", issuerPolicy, tt.issuer}, {"assertion", assertionPolicy, tt.assertion}} {
				keys, skipped, err := Parse(doc, pc.p)
				if err != nil {
					t.Fatalf("Parse(%s, %s) = %v, want nil", tt.name, pc.name, err)
				}
				switch {
				case tt.name == "kid not a string" && pc.name == "issuer":
					// go-jose's own error, whatever its wording.
					if len(keys) != 0 || len(skipped) != 1 {
						t.Errorf("Parse(%s, %s) = %v, %q, want one key skipped", tt.name, pc.name, keys, skipped)
					}
				case pc.want == kept:
					if len(keys) != 1 || len(skipped) != 0 {
						t.Errorf("Parse(%s, %s) = %v, %q, want the key kept", tt.name, pc.name, keys, skipped)
					}
				default:
					if want := []string{"keys[0]: " + pc.want}; len(keys) != 0 || !slices.Equal(skipped, want) {
						t.Errorf("Parse(%s, %s) = %v, %q, want skipped %q", tt.name, pc.name, keys, skipped, want)
					}
				}
			}
		})
	}
}

func TestParseDuplicateKID(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _, _ := ed25519.GenerateKey(rand.Reader)
	doc := []byte(`{"keys":[` + jwk(t, &a.PublicKey, "dup", "ES256", "") + `,` + jwk(t, b, "dup", "EdDSA", "") + `,` +
		jwk(t, b, "other", "", "") + `,` + jwk(t, &a.PublicKey, "dup", "", "") + `]}`)
	kids := func(keys []Key) (s []string) {
		for _, k := range keys {
			s = append(s, k.KID)
		}
		return s
	}
	for _, tt := range []struct {
		name        string
		p           *Policy
		wantKIDs    []string
		wantSkipped []string
	}{
		{"issuer keeps them all", issuerPolicy, []string{"dup", "dup", "other", "dup"}, nil},
		{"assertion refuses the kid", assertionPolicy, []string{"other"}, []string{
			`keys[1]: kid "dup" appears more than once`,
			`keys[3]: kid "dup" appears more than once`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keys, skipped, err := Parse(doc, tt.p)
			if err != nil || !slices.Equal(kids(keys), tt.wantKIDs) || !slices.Equal(skipped, tt.wantSkipped) {
				t.Errorf("Parse() = %v, %q, %v, want %v, %q, nil", kids(keys), skipped, err, tt.wantKIDs, tt.wantSkipped)
			}
		})
	}
}

func TestParseNotAJWKSet(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{}`, `not a JWK Set: no "keys" member`},
		{`{"keys":null}`, `not a JWK Set: no "keys" member`},
		{`[]`, "not a JWK Set: json: cannot unmarshal array into Go value of type struct"},
		{`{"keys":1}`, "not a JWK Set: json: cannot unmarshal number"},
		{`nope`, "not a JWK Set: invalid character"},
	} {
		if _, _, err := Parse([]byte(tt.doc), issuerPolicy); err == nil || len(err.Error()) < len(tt.want) || err.Error()[:len(tt.want)] != tt.want {
			t.Errorf("Parse(%s) = %v, want an error starting %q", tt.doc, err, tt.want)
		}
	}
	keys, skipped, err := Parse([]byte(`{"keys":[]}`), assertionPolicy)
	if err != nil || len(keys) != 0 || len(skipped) != 0 {
		t.Errorf(`Parse({"keys":[]}) = %v, %q, %v, want no keys, nothing skipped, nil`, keys, skipped, err)
	}
}

func TestFits(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tt := range []struct {
		name        string
		pub         any
		keyAlg, alg jose.SignatureAlgorithm
		want        bool
	}{
		{"RSA RS256", &r.PublicKey, "", jose.RS256, true},
		{"RSA PS512", &r.PublicKey, "", jose.PS512, true},
		{"RSA ES256", &r.PublicKey, "", jose.ES256, false},
		{"RSA pinned to RS256, PS256", &r.PublicKey, jose.RS256, jose.PS256, false},
		{"P-256 ES256", &p256.PublicKey, "", jose.ES256, true},
		{"P-256 ES384", &p256.PublicKey, "", jose.ES384, false},
		{"P-384 ES384", &p384.PublicKey, "", jose.ES384, true},
		{"P-384 ES256", &p384.PublicKey, "", jose.ES256, false},
		{"P-256 pinned to ES256", &p256.PublicKey, jose.ES256, jose.ES256, true},
		{"Ed25519 EdDSA", ed, "", jose.EdDSA, true},
		{"Ed25519 ES256", ed, "", jose.ES256, false},
		{"Ed25519 pinned to ES256, EdDSA", ed, jose.ES256, jose.EdDSA, false},
		{"unknown key type", "nope", "", jose.EdDSA, false},
	} {
		if got := Fits(tt.pub, tt.keyAlg, tt.alg); got != tt.want {
			t.Errorf("Fits(%s, %q, %s) = %v, want %v", tt.name, tt.keyAlg, tt.alg, got, tt.want)
		}
	}
}
