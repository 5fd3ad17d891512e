package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Policy says which keys of a JWK Set are usable. A key outside it is
// skipped, with the reason, by Parse.
type Policy struct {
	// Kty are the allowed "kty" values ("RSA", "EC", "OKP"), in the order a
	// refusal lists them. The key go-jose parses must be of one of them too.
	Kty []string
	// Algs are the allowed "alg" values; a key without "alg" is allowed.
	Algs []jose.SignatureAlgorithm
	// MinRSABits is the smallest RSA modulus accepted, in bits.
	MinRSABits int
	// Curves are the allowed EC curves ("P-256"); nil allows every curve
	// go-jose parses.
	Curves []string
	// RequireKID refuses a key without "kid".
	RequireKID bool
	// UniqueKID refuses every key under a kid that appears more than once
	// (which of them signed would be ambiguous). Without it, keys sharing a
	// kid are all kept, and the caller picks the one that fits the alg.
	UniqueKID bool
}

// Key is one usable public key of a JWK Set.
type Key struct {
	// KID is the "kid" member ("" if none): with Policy.RequireKID the one
	// the policy checked, else the one go-jose read. The two readings
	// differ only for a JWK that spells a member in another case
	// (encoding/json matches member names in any case, go-jose exactly).
	KID string
	// Alg is the "alg" member the policy checked, or "".
	Alg jose.SignatureAlgorithm
	// Pub is an *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Pub any
	// JWK is the key as go-jose parsed it (member names matched exactly).
	JWK jose.JSONWebKey
}

// head is what is checked of a JWK before go-jose parses it.
type head struct {
	Kty, Alg, Use string // "kid" is decoded apart, only if required
	// Private or symmetric key material (privateMembers says which)
	// of these count.
	D, K, P, Q, Dp, Dq, Qi, Priv json.RawMessage
}

func (h *head) member(name string) json.RawMessage {
	switch name {
	case "d":
		return h.D
	case "k":
		return h.K
	case "p":
		return h.P
	case "q":
		return h.Q
	case "dp":
		return h.Dp
	case "dq":
		return h.Dq
	case "qi":
		return h.Qi
	case "priv":
		return h.Priv
	}
	panic("jwks: unknown private member " + name) // a Policy literal is wrong
}

// Parse parses a JWK Set document. Keys that p refuses or that are
// malformed are skipped and described in skipped ("keys[i]: reason"); keys
// holds the others in document order. Only a document that is not a JWK
// Set at all is an error.
func Parse(data []byte, p *Policy) (keys []Key, skipped []string, err error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`not a JWK Set: no "keys" member`)
	}
	seen, dup := map[string]bool{}, map[string]bool{}
	for i, raw := range *doc.Keys {
		k, why := parseKey(raw, p)
		if why == "" && p.UniqueKID && (dup[k.KID] || seen[k.KID]) {
			dup[k.KID] = true
			why = fmt.Sprintf("kid %q appears more than once", k.KID)
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %s", i, why))
			continue
		}
		seen[k.KID] = true
		keys = append(keys, k)
	}
	if len(dup) > 0 {
		// The first key under a duplicated kid was kept before the second
		// showed up; it goes too, without a skipped line of its own.
		keys = slices.DeleteFunc(keys, func(k Key) bool { return dup[k.KID] })
	}
	return keys, skipped, nil
}

func parseKey(raw json.RawMessage, p *Policy) (Key, string) {
	var h head
	if err := json.Unmarshal(raw, &h); err != nil {
		return Key{}, "not a JSON object"
	}
	var kid string
	if p.RequireKID {
		var id struct{ Kid string }
		if err := json.Unmarshal(raw, &id); err != nil {
			return Key{}, "not a JSON object"
		}
		if kid = id.Kid; kid == "" {
			return Key{}, "no kid"
		}
	}
	switch {
	case !slices.Contains(p.Kty, h.Kty):
		return Key{}, fmt.Sprintf("kty %q refused (only %s)", h.Kty, only(p.Kty))
	case slices.ContainsFunc(privateMembers, func(m string) bool { return h.member(m) != nil }):
		return Key{}, "contains private key material"
	case h.Use != "" && h.Use != "sig":
		return Key{}, fmt.Sprintf("use %q is not sig", h.Use)
	case h.Alg != "" && !slices.Contains(p.Algs, jose.SignatureAlgorithm(h.Alg)):
		return Key{}, fmt.Sprintf("alg %q refused", h.Alg)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return Key{}, err.Error()
	}
	if !p.RequireKID {
		kid = k.KeyID
	}
	var kty string // what go-jose made of the key, which must be allowed too
	switch k.Key.(type) {
	case *rsa.PublicKey:
		kty = "RSA"
	case *ecdsa.PublicKey:
		kty = "EC"
	case ed25519.PublicKey:
		kty = "OKP"
	}
	if kty == "" || !slices.Contains(p.Kty, kty) {
		return Key{}, fmt.Sprintf("key type %T refused", k.Key)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < p.MinRSABits {
			return Key{}, fmt.Sprintf("RSA key of %d bits refused (minimum %d)", pub.N.BitLen(), p.MinRSABits)
		}
	case *ecdsa.PublicKey:
		if crv := pub.Curve.Params().Name; p.Curves != nil && !slices.Contains(p.Curves, crv) {
			return Key{}, fmt.Sprintf("curve %s refused (only %s)", crv, only(p.Curves))
		}
	}
	return Key{KID: kid, Alg: jose.SignatureAlgorithm(h.Alg), Pub: k.Key, JWK: k}, ""
}

// only lists names for a refusal: "A", "A and B", "A, B, C".
func only(names []string) string {
	if len(names) == 2 {
		return names[0] + " and " + names[1]
	}
	return strings.Join(names, ", ")
}

// Fits reports whether pub, of a JWK whose "alg" is keyAlg ("" if none),
// may verify a signature made with alg: keyAlg (if any) must be alg, and
// the key type and curve must be the ones alg is defined for.
func Fits(pub any, keyAlg, alg jose.SignatureAlgorithm) bool {
	if keyAlg != "" && keyAlg != alg {
		return false
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return pub.Curve.Params().Name == "P-256"
		case jose.ES384:
			return pub.Curve.Params().Name == "P-384"
		case jose.ES512:
			return pub.Curve.Params().Name == "P-521"
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4; OKP "d"; "priv" of some
// libraries). A key with any of them never belongs in a published set.
var privateMembers = []string{"d", "k", "p", "q", "dp", "dq", "qi", "priv"}
