package bundlecli

import (
	"fmt"

	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
)

// access is what a subject may do with one method.
type access uint8

const (
	denied      access = iota
	conditional        // allowed for some calls: a role or method condition decides
	allowed
)

func (a access) String() string {
	return [...]string{"deny", "conditional", "allow"}[a]
}

// probeID is the principal id of synthetic callers that must not match
// any user or service binding.
const probeID = "\x00portcullis-diff-probe"

// openTables is the compiled policy with every method condition removed,
// shared by the engines of both bundles: whether a condition decides is
// answered by conds, not by evaluating it on a made-up request.
type openTables struct {
	reg     *policy.Registry
	methods []*policy.Method // sorted by name
	conds   map[*policy.Method]bool
}

func newOpenTables(reg *policy.Registry) (*openTables, error) {
	t := &policy.Table{File: "policy-diff"}
	for _, p := range reg.Permissions() {
		t.Permissions = append(t.Permissions, *p)
	}
	cond := map[string]bool{}
	for _, n := range reg.Methods() {
		m, _ := reg.Lookup(n)
		c := *m
		cond[n], c.Condition = m.Condition != "", ""
		t.Methods = append(t.Methods, c)
	}
	r, err := policy.NewRegistry(t)
	if err != nil {
		return nil, fmt.Errorf("policy diff: %w", err)
	}
	o := &openTables{reg: r, conds: map[*policy.Method]bool{}}
	for _, n := range r.Methods() {
		m, _ := r.Lookup(n)
		o.methods = append(o.methods, m)
		o.conds[m] = cond[n]
	}
	return o, nil
}

// judge answers access questions about one bundle with two engines: open
// (every role condition holds) and closed (no conditional role applies).
// Allowed by open but not by closed, or by a conditional method, is
// conditional.
type judge struct {
	b            *policy.Bundle
	t            *openTables
	open, closed *authz.Engine
}

func newJudge(t *openTables, b *policy.Bundle) (*judge, error) {
	open, closed := *b, *b
	open.Roles, closed.Roles = map[string]*policy.Role{}, map[string]*policy.Role{}
	for n, r := range b.Roles {
		open.Roles[n] = &policy.Role{Name: n, Permissions: r.Permissions}
		closed.Roles[n] = &policy.Role{Name: n}
		if r.Condition == "" {
			closed.Roles[n].Permissions = r.Permissions
		}
	}
	j := &judge{b: b, t: t}
	var err error
	if j.open, err = authz.NewEngine(t.reg, &open); err != nil {
		return nil, fmt.Errorf("policy diff: %s: %w", b.Source, err)
	}
	if j.closed, err = authz.NewEngine(t.reg, &closed); err != nil {
		return nil, fmt.Errorf("policy diff: %s: %w", b.Source, err)
	}
	return j, nil
}

func (j *judge) access(m *policy.Method, p *policy.Principal) access {
	in := &authz.Input{Principal: p}
	if !j.open.Decide(m, in).Allowed {
		return denied
	}
	if j.t.conds[m] || !j.closed.Decide(m, in).Allowed {
		return conditional
	}
	return allowed
}

// subject is a role or a bound identity whose access is compared.
type subject struct {
	kind, name string // kind: role, user, group, service, spiffe, api_key
}

// kindOrder sorts subjects in reports.
var kindOrder = map[string]int{"role": 0, "user": 1, "group": 2, "service": 3, "spiffe": 4, "api_key": 5}

// subjects lists every role and subject named in any of the bundles.
func subjects(bs ...*policy.Bundle) []subject {
	seen := map[subject]bool{}
	var out []subject
	add := func(s subject) {
		if s.name != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, b := range bs {
		for n := range b.Roles {
			add(subject{kind: "role", name: n})
		}
		for _, bd := range b.Bindings {
			for _, s := range bd.Users {
				add(subject{kind: "user", name: s})
			}
			for _, s := range bd.Groups {
				add(subject{kind: "group", name: s})
			}
			for _, s := range bd.Services {
				add(subject{kind: "service", name: s})
			}
			for _, s := range bd.SPIFFE {
				add(subject{kind: "spiffe", name: s})
			}
		}
		for id := range b.APIKeys {
			add(subject{kind: "api_key", name: id})
		}
	}
	return out
}

// probe is the synthetic caller standing for s on method m in bundle b,
// or nil when s cannot call at all there (an API key that is missing,
// disabled or expired). Credential, mTLS, bound-token and scope
// requirements are satisfied, except that an API key keeps its own
// scopes and cannot be a bound token.
func probe(s subject, b *policy.Bundle, m *policy.Method) *policy.Principal {
	p := &policy.Principal{ID: probeID, Kind: policy.KindUser, Credential: firstCredential(m.Credentials),
		MTLS: true, Bound: true, Scopes: m.Scopes}
	switch s.kind {
	case "role":
		p.Roles = []string{s.name}
	case "user":
		p.ID = s.name
	case "service":
		p.ID, p.Kind = s.name, policy.KindService
	case "group":
		p.Groups = []string{s.name}
	case "spiffe":
		p.ID, p.SPIFFEID = s.name, s.name
	case "api_key":
		k, ok := b.APIKeys[s.name]
		if !ok || k.Disabled || (!k.ExpiresAt.IsZero() && !now().Before(k.ExpiresAt)) {
			return nil
		}
		return &policy.Principal{ID: k.Principal, Kind: k.Kind, Credential: policy.CredentialAPIKey, Roles: k.Roles,
			Scopes: k.Scopes, HasScopes: len(k.Scopes) > 0, Tenant: k.Tenant, MTLS: true}
	}
	return p
}

// firstCredential picks a credential kind the method accepts.
func firstCredential(c policy.Credentials) policy.Credentials {
	for _, k := range []policy.Credentials{policy.CredentialJWT, policy.CredentialAPIKey, policy.CredentialMTLS} {
		if c&k != 0 {
			return k
		}
	}
	return policy.CredentialJWT
}
