package bundlecli

import (
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/policy"
)

// casePrincipal is a test case's caller, field by field.
type casePrincipal struct {
	ID         string    `yaml:"id"`
	Kind       string    `yaml:"kind"`
	Roles      []string  `yaml:"roles"`
	Groups     []string  `yaml:"groups"`
	Scopes     *[]string `yaml:"scopes"` // present (even empty): the credential carries scopes
	Tenant     string    `yaml:"tenant"`
	SPIFFEID   string    `yaml:"spiffe_id"`
	Credential string    `yaml:"credential"`
	MTLS       bool      `yaml:"mtls"`
	Bound      bool      `yaml:"bound"`
}

// principal builds the policy.Principal of a case. Defaults: kind user,
// credential jwt; an mtls credential implies an mTLS connection, and its
// id defaults to the SPIFFE ID.
func (c *casePrincipal) principal() (*policy.Principal, string, error) {
	p := &policy.Principal{ID: c.ID, Kind: c.Kind, Roles: c.Roles, Groups: c.Groups, Tenant: c.Tenant,
		SPIFFEID: c.SPIFFEID, MTLS: c.MTLS, Bound: c.Bound}
	switch p.Kind {
	case "":
		p.Kind = policy.KindUser
	case policy.KindAnonymous:
		return &policy.Principal{Kind: policy.KindAnonymous}, "", nil
	case policy.KindUser, policy.KindService:
	default:
		return nil, "kind", fmt.Errorf("kind must be user, service or anonymous, got %q", c.Kind)
	}
	cred := c.Credential
	if cred == "" {
		cred = "jwt"
	}
	var ok bool
	if p.Credential, ok = policy.ParseCredential(cred); !ok {
		return nil, "credential", fmt.Errorf("credential must be jwt, api_key or mtls, got %q", c.Credential)
	}
	if p.Credential == policy.CredentialMTLS {
		p.MTLS = true
		if p.ID == "" {
			p.ID = p.SPIFFEID
		}
	}
	if p.Bound && !p.MTLS {
		return nil, "bound", fmt.Errorf("a bound token is only bound over mTLS: set mtls: true")
	}
	if p.SPIFFEID != "" && !strings.HasPrefix(p.SPIFFEID, "spiffe://") {
		return nil, "spiffe_id", fmt.Errorf("%q is not a SPIFFE ID (spiffe://trust-domain/path)", p.SPIFFEID)
	}
	if p.ID == "" {
		return nil, "id", fmt.Errorf("id is required (or kind: anonymous)")
	}
	if c.Scopes != nil {
		p.Scopes, p.HasScopes = *c.Scopes, true
	}
	return p, "", nil
}

// claimsPrincipal maps token claims the way the gateway's default issuer
// mapping does: sub → id, roles, groups, scope (space-separated) or scp →
// scopes, and here also tenant and kind (the gateway maps those only when
// its issuer names the claims). A cnf claim makes the token bound and
// presented over mTLS.
func claimsPrincipal(cl map[string]any) (*policy.Principal, string, error) {
	sub, _ := cl["sub"].(string)
	if sub == "" {
		return nil, "sub", fmt.Errorf("claim sub is required (a non-empty string)")
	}
	p := &policy.Principal{ID: sub, Kind: policy.KindUser, Credential: policy.CredentialJWT, Claims: map[string]string{}}
	var ok bool
	if p.Roles, ok = stringList(cl["roles"]); !ok {
		return nil, "roles", fmt.Errorf("claim roles is not a string or a list of strings")
	}
	if p.Groups, ok = stringList(cl["groups"]); !ok {
		return nil, "groups", fmt.Errorf("claim groups is not a string or a list of strings")
	}
	if v, has := cl["scope"]; has {
		s, isStr := v.(string)
		if !isStr {
			return nil, "scope", fmt.Errorf("claim scope is not a string")
		}
		p.Scopes, p.HasScopes = strings.Fields(s), true
	} else if v, has := cl["scp"]; has {
		if s, isStr := v.(string); isStr {
			p.Scopes = strings.Fields(s)
		} else if p.Scopes, ok = stringList(v); !ok {
			return nil, "scp", fmt.Errorf("claim scp is not a string or a list of strings")
		}
		p.HasScopes = true
	}
	if v, has := cl["tenant"]; has {
		if p.Tenant, ok = v.(string); !ok {
			return nil, "tenant", fmt.Errorf("claim tenant is not a string")
		}
	}
	if v, has := cl["kind"]; has {
		if k, _ := v.(string); k == policy.KindUser || k == policy.KindService {
			p.Kind = k
		} else {
			return nil, "kind", fmt.Errorf("claim kind is %v, not user or service", v)
		}
	}
	if _, has := cl["cnf"]; has {
		p.Bound, p.MTLS = true, true
	}
	for k, v := range cl {
		if s, isStr := v.(string); isStr {
			p.Claims[k] = s
		}
	}
	return p, "", nil
}

// stringList reads a claim that is absent, a string or a list of strings.
func stringList(v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
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
