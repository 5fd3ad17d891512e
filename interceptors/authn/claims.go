package authn

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// principal maps claims to a Principal, as configured for the issuer.
func (is *issuer) principal(cl *claimSet, token string, exp time.Time) (*policy.Principal, string) {
	c := &is.cfg
	sub, _, _ := cl.str(c.SubjectClaim)
	if sub == "" {
		return nil, fmt.Sprintf("subject claim %q missing or not a non-empty string", c.SubjectClaim)
	}
	p := &policy.Principal{
		ID:         sub,
		Kind:       c.Kind,
		Credential: policy.CredentialJWT,
		Issuer:     c.Issuer,
		ExpiresAt:  exp,
		Claims:     make(map[string]string, cl.len()),
	}
	if c.KindClaim != "" {
		if k, has, _ := cl.str(c.KindClaim); has {
			if !isKind(k) {
				return nil, fmt.Sprintf("kind claim %q is %v, not %q or %q", c.KindClaim, cl.value(c.KindClaim), policy.KindUser, policy.KindService)
			}
			p.Kind = k
		}
	}
	var ok bool
	if p.Roles, ok = cl.strings(c.RolesClaim); !ok {
		return nil, fmt.Sprintf("roles claim %q is not a string or an array of strings", c.RolesClaim)
	}
	if p.Groups, ok = cl.strings(c.GroupsClaim); !ok {
		return nil, fmt.Sprintf("groups claim %q is not a string or an array of strings", c.GroupsClaim)
	}
	if s, has, isStr := cl.str("scope"); has {
		if !isStr {
			return nil, "scope claim is not a string"
		}
		p.Scopes, p.HasScopes = strings.Fields(s), true
	} else if s, has, isStr := cl.str("scp"); has {
		if isStr {
			p.Scopes = strings.Fields(s)
		} else if p.Scopes, ok = cl.strings("scp"); !ok {
			return nil, "scp claim is not a string or an array of strings"
		}
		p.HasScopes = true
	}
	if c.TenantClaim != "" {
		if s, has, isStr := cl.str(c.TenantClaim); has {
			if !isStr {
				return nil, fmt.Sprintf("tenant claim %q is not a string", c.TenantClaim)
			}
			p.Tenant = s
		}
	}
	for _, m := range cl.list {
		if s, ok := decodeString(m.val); ok {
			p.Claims[m.name] = s
		}
	}
	if jti, _, _ := cl.str("jti"); jti != "" {
		p.CredentialID = jti
	} else {
		sum := sha256.Sum256([]byte(token))
		p.CredentialID = "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:12])
	}
	return p, ""
}

// confirmation returns the x5t#S256 of a cnf claim (RFC 8705), "" when
// there is none. A cnf that binds the token some other way (a DPoP jkt, a
// raw key) cannot be checked here, so it is refused rather than ignored.
func confirmation(v any) (string, string) {
	if v == nil {
		return "", ""
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", "cnf claim is not an object"
	}
	for k := range m {
		if k != "x5t#S256" {
			return "", fmt.Sprintf("cnf confirmation method %q not supported", k)
		}
	}
	s, _ := m["x5t#S256"].(string)
	if len(s) != 43 {
		return "", "cnf x5t#S256 is not a base64url SHA-256 thumbprint"
	}
	return s, ""
}

// numericDate reads a NumericDate claim: ok when present, bad when present
// but not a number.
func numericDate(cl *claimSet, name string) (t time.Time, ok, bad bool) {
	f, has, isNum := cl.number(name)
	if !has {
		return time.Time{}, false, false
	}
	if !isNum || f < 0 || f > 1<<40 {
		return time.Time{}, false, true
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, false
}
