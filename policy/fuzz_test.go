package policy_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// FuzzParseAPIKey checks that ParseAPIKey never panics, refuses with
// ErrMalformedAPIKey and empty results, and accepts only keys of the
// documented form, whose parts reassemble the key exactly; and that every
// key NewAPIKey makes parses back to its id and hash. Seeds are in
// testdata/fuzz/FuzzParseAPIKey.
func FuzzParseAPIKey(f *testing.F) {
	for range 4 {
		key, id, hash, err := policy.NewAPIKey()
		if err != nil {
			f.Fatalf("NewAPIKey() = %v", err)
		}
		gotID, secret, err := policy.ParseAPIKey(key)
		if err != nil || gotID != id || policy.HashAPIKey(gotID, secret) != hash {
			f.Fatalf("ParseAPIKey(NewAPIKey() = %q) = %q, %q, %v, want id %q and the key's hash", key, gotID, secret, err, id)
		}
		f.Add(key)
	}
	f.Add("pcs_")
	f.Add("pcs_abcdefghijkl_" + strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, key string) {
		id, secret, err := policy.ParseAPIKey(key)
		if err != nil {
			if !errors.Is(err, policy.ErrMalformedAPIKey) || id != "" || secret != "" {
				t.Fatalf("ParseAPIKey(%q) = %q, %q, %v, want empty parts and %v", key, id, secret, err, policy.ErrMalformedAPIKey)
			}
			return
		}
		if strings.ContainsAny(secret, "\r\n") {
			t.Fatalf("ParseAPIKey(%q) accepted CR/LF in the secret", key)
		}
		if policy.APIKeyPrefix+id+"_"+secret != key {
			t.Fatalf("ParseAPIKey(%q) = %q, %q, which do not reassemble the key", key, id, secret)
		}
		if len(id) != 12 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("ParseAPIKey(%q) id = %q, want 12 characters of the base32 alphabet", key, id)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(raw) != 32 || len(secret) != 43 {
			t.Fatalf("ParseAPIKey(%q) secret = %q (%d bytes decoded, %v), want 43 characters of base64url for 32 bytes", key, secret, len(raw), err)
		}
		if got, want := policy.HashAPIKey(id, secret), sha256.Sum256([]byte("portcullis-api-key:"+id+":"+secret)); got != want {
			t.Fatalf("HashAPIKey(%q, %q) = %x, want %x (the documented construction)", id, secret, got, want)
		}
	})
}
