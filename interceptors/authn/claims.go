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
func (is *issuer) principal(cl map[string]any, token string, exp time.Time) (*policy.Principal, string) {
	c := &is.cfg
	sub, _ := cl[c.SubjectClaim].(string)
	if sub == "" {
		return nil, fmt.Sprintf("subject claim %q missing or not a non-empty string", c.SubjectClaim)
	}
	p := &policy.Principal{
		ID:         sub,
		Kind:       c.Kind,
		Credential: policy.CredentialJWT,
		Issuer:     c.Issuer,
		ExpiresAt:  exp,
		Claims:     map[string]string{},
	}
	if c.KindClaim != "" {
		if v, ok := cl[c.KindClaim]; ok {
			if k, _ := v.(string); isKind(k) {
				p.Kind = k
			} else {
				return nil, fmt.Sprintf("kind claim %q is %v, not %q or %q", c.KindClaim, v, policy.KindUser, policy.KindService)
			}
		}
	}
	var ok bool
	if p.Roles, ok = stringList(cl[c.RolesClaim]); !ok {
		return nil, fmt.Sprintf("roles claim %q is not a string or an array of strings", c.RolesClaim)
	}
	if p.Groups, ok = stringList(cl[c.GroupsClaim]); !ok {
		return nil, fmt.Sprintf("groups claim %q is not a string or an array of strings", c.GroupsClaim)
	}
	if v, has := cl["scope"]; has {
		s, isStr := v.(string)
		if !isStr {
			return nil, "scope claim is not a string"
		}
		p.Scopes, p.HasScopes = strings.Fields(s), true
	} else if v, has := cl["scp"]; has {
		if s, isStr := v.(string); isStr {
			p.Scopes = strings.Fields(s)
		} else if p.Scopes, ok = stringList(v); !ok {
			return nil, "scp claim is not a string or an array of strings"
		}
		p.HasScopes = true
	}
	if c.TenantClaim != "" {
		if v, has := cl[c.TenantClaim]; has {
			if p.Tenant, ok = v.(string); !ok {
				return nil, fmt.Sprintf("tenant claim %q is not a string", c.TenantClaim)
			}
		}
	}
	for k, v := range cl {
		if s, isStr := v.(string); isStr {
			p.Claims[k] = s
		}
	}
	if jti, _ := cl["jti"].(string); jti != "" {
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
func numericDate(cl map[string]any, name string) (t time.Time, ok, bad bool) {
	v, has := cl[name]
	if !has {
		return time.Time{}, false, false
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f > 1<<40 {
		return time.Time{}, false, true
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, false
}

// stringList reads a claim that is a string or an array of strings; an
// absent claim is an empty list.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
