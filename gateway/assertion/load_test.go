package assertion_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/assertion"
)

func jwksKids(t *testing.T, s *assertion.Signer) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatalf("JWKS() = %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestLoad: Load swaps in the keys of a refreshed secret (new key first,
// old one still published) and refuses a bad value, keeping the keys.
func TestLoad(t *testing.T) {
	k1, _ := assertion.GenerateKey(assertion.EdDSA)
	k2, _ := assertion.GenerateKey(assertion.EdDSA)
	ec, _ := assertion.GenerateKey(assertion.ES256)
	s := newSigner(t, assertion.Config{Issuer: gatewayID, KeyPEM: k1})
	kid1 := s.KeyID()
	old, err := s.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(append(append([]byte{}, k2...), k1...)); err != nil {
		t.Fatalf("Load(new, old) = %v, want nil", err)
	}
	kid2 := s.KeyID()
	if kid2 == kid1 {
		t.Fatalf("KeyID() after Load = the old kid, want the new key's")
	}
	if kids := jwksKids(t, s); !slices.Equal(kids, []string{kid2, kid1}) {
		t.Errorf("JWKS kids after Load = %v, want [%s %s]", kids, kid2, kid1)
	}
	v := verifier(t, s)
	cur, _ := s.Sign(alice)
	for name, tok := range map[string]string{"old key": old, "new key": cur} {
		if _, err := v.Verify(testContext(t), method, tok); err != nil {
			t.Errorf("Verify(assertion of the %s) = %v, want nil", name, err)
		}
	}
	for _, tt := range []struct {
		name string
		pem  []byte
		want string
	}{
		{"not PEM", []byte("hunter2"), "no PEM private key"},
		{"other algorithm", ec, "current key is ES256, algorithm is EdDSA"},
		{"duplicate", append(append([]byte{}, k2...), k2...), "appears twice"},
	} {
		err := s.Load(tt.pem)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Load(%s) = %v, want an error containing %q", tt.name, err, tt.want)
		}
		if s.KeyID() != kid2 {
			t.Errorf("KeyID() after Load(%s) = %s, want %s kept", tt.name, s.KeyID(), kid2)
		}
	}
}
