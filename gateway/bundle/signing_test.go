package bundle

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// pemOf returns the PEM block of der with the given type, indented for a
// YAML block scalar.
func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	s := string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ")
}

func publicPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

func signingBundle(entry string) string {
	return "version: v1\nsigning_keys:\n" + entry
}

func TestParseSigningKeys(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	src := signingBundle(`  - id: teller-1-2026
    principal: teller-1
    public_key: |
` + publicPEM(t, edPub) + `
    expires: 2027-06-01T00:00:00Z
  - id: bot.k2
    principal: reporting-bot
    algorithm: ecdsa-p256-sha256
    public_key: |
` + publicPEM(t, &ec.PublicKey) + `
    disabled: true
api_keys:
  - id: abcdefghijk2
    hash: ` + hash + `
    principal: reporting-bot
    require_signature: true
`)
	b, err := Parse("b.yaml", []byte(src), registry(t))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	k, ok := b.SigningKey("teller-1-2026")
	if !ok || k.Algorithm != "ed25519" || k.Principal != "teller-1" || !k.Public.(ed25519.PublicKey).Equal(edPub) || k.ExpiresAt.Year() != 2027 {
		t.Fatalf("SigningKey(teller-1-2026) = %+v, %v", k, ok)
	}
	if !k.Usable(time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)) || k.Usable(time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Usable: want usable before expiry only")
	}
	e, ok := b.SigningKey("bot.k2")
	if !ok || e.Algorithm != "ecdsa-p256-sha256" || !e.Public.(*ecdsa.PublicKey).Equal(&ec.PublicKey) || e.Usable(time.Now()) {
		t.Fatalf("SigningKey(bot.k2) = %+v, %v, want a disabled P-256 key", e, ok)
	}
	if ak, _ := b.APIKey("abcdefghijk2"); !ak.RequireSignature {
		t.Errorf("api_keys[0].require_signature not kept")
	}
	if _, ok := (*policy.Bundle)(nil).SigningKey("x"); ok {
		t.Errorf("nil bundle has a signing key")
	}
}

func TestParseSigningKeyErrors(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a test key that must be refused
	privDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	good := publicPEM(t, edPub)
	entry := func(id, principal, extra, key string) string {
		return signingBundle("  - id: " + id + "\n    principal: " + principal + "\n" + extra + "    public_key: |\n" + key + "\n")
	}
	tests := []struct{ name, src, want string }{
		{"bad id", entry(`"a b"`, "p", "", good), `b.yaml:3: signing_keys[0].id: invalid signing key id "a b"`},
		{"no principal", entry("k1", `""`, "", good), "signing_keys[0]: principal is required"},
		{"private key", entry("k1", "p", "", pemOf(t, "PRIVATE KEY", privDER)), "signing_keys[0].public_key: this is a private key"},
		{"not pem", entry("k1", "p", "", "      hello"), `signing_keys[0].public_key: want one PEM "PUBLIC KEY" block`},
		{"two blocks", entry("k1", "p", "", good+"\n"+good), "want exactly one PEM block"},
		{"rsa", entry("k1", "p", "", publicPEM(t, &rsaKey.PublicKey)), "a *rsa.PublicKey key cannot sign requests"},
		{"p384", entry("k1", "p", "", publicPEM(t, &p384.PublicKey)), "ECDSA key on P-384: only P-256"},
		{"algorithm mismatch", entry("k1", "p", "    algorithm: ecdsa-p256-sha256\n", good), `signing_keys[0].algorithm: algorithm "ecdsa-p256-sha256" does not match the public key (ed25519)`},
		{"bad expiry", entry("k1", "p", "    expires: soon\n", good), `signing_keys[0].expires: invalid time "soon"`},
		{"unknown field", entry("k1", "p", "    secret: x\n", good), `unknown field "secret"`},
		{"duplicate", signingBundle("  - id: k1\n    principal: p\n    public_key: |\n" + good + "\n  - id: k1\n    principal: q\n    public_key: |\n" + good + "\n"),
			`signing_keys[1].id: signing key "k1" listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(tt.src), registry(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
