// Package bundle loads policy bundles: versioned YAML files holding roles,
// subject bindings and API keys (hashes only). Loading is strict: an
// unknown key, an unknown permission, a role granting an internal
// permission, a binding to an unknown role or a malformed API key entry is
// an error naming the file, the line and the item. A bundle is validated
// against the compiled permission catalog before it can be used.
//
// File format (docs/bundle.md has the full reference):
//
//	version: "2026-12-01.1"
//	author: alice@example.com
//	message: initial roles
//	roles:
//	  teller:
//	    permissions: [bank.accounts.read, bank.transfers.create]
//	bindings:
//	  - roles: [teller]
//	    users: [teller-1]
//	    groups: [tellers]
//	    spiffe: [spiffe://portcullis.local/user/teller]
//	api_keys:
//	  - id: k7f3q2m9x4wb
//	    hash: sha256:9f86d0…                   # portcullis policy hash-key
//	    principal: reporting-bot
//	    kind: service
//	    roles: [auditor]
//	    expires: 2027-01-01T00:00:00Z
//	    cidrs: [10.0.0.0/8]
package bundle

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/portcullis/portcullis/policy"
)

// Catalog answers which permissions and methods exist; *policy.Registry
// satisfies it.
type Catalog interface {
	Permission(name string) (*policy.Permission, bool)
	Lookup(fullMethod string) (*policy.Method, bool)
}

// file is the YAML shape of a bundle.
type file struct {
	Version   string              `yaml:"version"`
	Author    string              `yaml:"author"`
	Message   string              `yaml:"message"`
	Roles     map[string]role     `yaml:"roles"`
	Bindings  []binding           `yaml:"bindings"`
	APIKeys   []apiKey            `yaml:"api_keys"`
	Signing   []signingKey        `yaml:"signing_keys"`
	Overrides map[string]override `yaml:"overrides"`
}

type override struct {
	Disabled    bool       `yaml:"disabled"`
	Public      *bool      `yaml:"public"`
	Permissions []string   `yaml:"permissions"`
	Condition   string     `yaml:"condition"`
	RateLimit   *rateLimit `yaml:"rate_limit"`
}

type rateLimit struct {
	PerSecond uint32 `yaml:"per_second"`
	PerMinute uint32 `yaml:"per_minute"`
	PerHour   uint32 `yaml:"per_hour"`
	Burst     uint32 `yaml:"burst"`
}

type role struct {
	Permissions []string `yaml:"permissions"`
	Condition   string   `yaml:"condition"`
}

type binding struct {
	Roles    []string `yaml:"roles"`
	Users    []string `yaml:"users"`
	Groups   []string `yaml:"groups"`
	Services []string `yaml:"services"`
	SPIFFE   []string `yaml:"spiffe"`
}

type apiKey struct {
	ID        string   `yaml:"id"`
	Hash      string   `yaml:"hash"`
	Principal string   `yaml:"principal"`
	Kind      string   `yaml:"kind"`
	Roles     []string `yaml:"roles"`
	Scopes    []string `yaml:"scopes"`
	Tenant    string   `yaml:"tenant"`
	Expires   string   `yaml:"expires"`
	CIDRs     []string `yaml:"cidrs"`
	Disabled  bool     `yaml:"disabled"`
	// RequireSignature: every call made with the key must be signed.
	RequireSignature bool `yaml:"require_signature"`
}

// maxFileBytes bounds a bundle file.
const maxFileBytes = 8 << 20

var (
	roleName = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	keyID    = regexp.MustCompile(`^[a-z2-7]{12}$`)
)

// Load reads and validates the bundle at path.
func Load(path string, cat Catalog) (*policy.Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return Parse(path, data, cat)
}

// Parse validates a bundle file's contents; name is used in errors.
func Parse(name string, data []byte, cat Catalog) (*policy.Bundle, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("bundle: %s: larger than %d bytes", name, maxFileBytes)
	}
	f, tree, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %s", name, strings.TrimSpace(yaml.FormatError(err, false, false)))
	}
	v := &validator{name: name, tree: tree, data: data}
	b := v.build(&f, cat)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return b, nil
}

// validator collects problems with their lines.
type validator struct {
	name string
	tree *ast.File
	data []byte
	errs []error
}

// fail records a problem at the YAML path (e.g. "$.roles.teller").
func (v *validator) fail(path, format string, args ...any) {
	line := 0
	if v.tree != nil {
		if p, err := yaml.PathString(path); err == nil {
			if n, err := p.FilterFile(v.tree); err == nil && n != nil && n.GetToken() != nil {
				line = n.GetToken().Position.Line
			}
		}
	}
	if line == 0 {
		// Keys go-yaml paths cannot address (quoted method names with '/'
		// and '.'): find the key's line in the text.
		if i := strings.Index(path, `"`); i >= 0 {
			if j := strings.Index(path[i+1:], `"`); j > 0 {
				line = lineOf(v.data, path[i+1:i+1+j])
			}
		}
	}
	item := strings.TrimPrefix(path, "$.")
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		v.errs = append(v.errs, fmt.Errorf("bundle: %s:%d: %s: %s", v.name, line, item, msg))
	} else {
		v.errs = append(v.errs, fmt.Errorf("bundle: %s: %s: %s", v.name, item, msg))
	}
}

func (v *validator) build(f *file, cat Catalog) *policy.Bundle {
	b := &policy.Bundle{Version: f.Version, Author: f.Author, Message: f.Message, Source: v.name,
		LoadedAt: time.Now(), Roles: map[string]*policy.Role{}, APIKeys: map[string]*policy.APIKey{},
		SigningKeys: map[string]*policy.SigningKey{}}
	if strings.TrimSpace(f.Version) == "" {
		v.fail("$.version", "required: label the bundle (e.g. a date and counter)")
	}
	names := make([]string, 0, len(f.Roles))
	for n := range f.Roles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := f.Roles[n]
		at := "$.roles." + n
		if !roleName.MatchString(n) {
			v.fail(at, "invalid role name %q (lower-case letters, digits, '_', '.', '-')", n)
		}
		if len(r.Permissions) == 0 {
			v.fail(at, "role grants no permissions")
		}
		for i, p := range r.Permissions {
			pat := fmt.Sprintf("%s.permissions[%d]", at, i)
			perm, ok := cat.Permission(p)
			switch {
			case !ok:
				v.fail(pat, "unknown permission %q (not in the compiled catalog; see `portcullis policy catalog`)", p)
			case perm.Internal:
				v.fail(pat, "permission %q is internal: a bundle role cannot grant it (operators grant it to service identities in the gateway config)", p)
			}
		}
		b.Roles[n] = &policy.Role{Name: n, Permissions: append([]string(nil), r.Permissions...), Condition: r.Condition}
	}
	for i, bd := range f.Bindings {
		at := fmt.Sprintf("$.bindings[%d]", i)
		if len(bd.Roles) == 0 {
			v.fail(at, "binding grants no roles")
		}
		for j, r := range bd.Roles {
			if _, ok := f.Roles[r]; !ok {
				v.fail(fmt.Sprintf("%s.roles[%d]", at, j), "unknown role %q", r)
			}
		}
		if len(bd.Users)+len(bd.Groups)+len(bd.Services)+len(bd.SPIFFE) == 0 {
			v.fail(at, "binding names no subject (users, groups, services or spiffe)")
		}
		for j, s := range bd.SPIFFE {
			if !strings.HasPrefix(s, "spiffe://") {
				v.fail(fmt.Sprintf("%s.spiffe[%d]", at, j), "%q is not a SPIFFE ID (spiffe://trust-domain/path)", s)
			}
		}
		b.Bindings = append(b.Bindings, policy.Binding{Roles: bd.Roles, Users: bd.Users, Groups: bd.Groups, Services: bd.Services, SPIFFE: bd.SPIFFE})
	}
	v.overrides(b, f, cat)
	for i, k := range f.APIKeys {
		if key := v.apiKey(fmt.Sprintf("$.api_keys[%d]", i), k, f, cat); key != nil {
			if _, dup := b.APIKeys[key.ID]; dup {
				v.fail(fmt.Sprintf("$.api_keys[%d].id", i), "API key %q listed twice", key.ID)
			}
			b.APIKeys[key.ID] = key
		}
	}
	v.signingKeys(b, f)
	return b
}

func (v *validator) apiKey(at string, k apiKey, f *file, cat Catalog) *policy.APIKey {
	out := &policy.APIKey{ID: k.ID, Principal: k.Principal, Kind: k.Kind, Roles: k.Roles, Scopes: k.Scopes, Tenant: k.Tenant,
		Disabled: k.Disabled, RequireSignature: k.RequireSignature}
	ok := true
	if !keyID.MatchString(k.ID) {
		v.fail(at+".id", "invalid key id %q (12 characters a-z, 2-7; the part after pcs_)", k.ID)
		ok = false
	}
	hexHash, found := strings.CutPrefix(k.Hash, "sha256:")
	raw, err := hex.DecodeString(hexHash)
	if !found || err != nil || len(raw) != 32 {
		v.fail(at+".hash", "want sha256:<64 hex digits> (from `portcullis policy hash-key`); never the key itself")
		ok = false
	} else {
		copy(out.Hash[:], raw)
	}
	if k.Principal == "" {
		v.fail(at, "principal is required")
		ok = false
	}
	switch k.Kind {
	case "":
		out.Kind = policy.KindService
	case policy.KindUser, policy.KindService:
	default:
		v.fail(at+".kind", "kind must be user or service, got %q", k.Kind)
	}
	for j, r := range k.Roles {
		if _, exists := f.Roles[r]; !exists {
			v.fail(fmt.Sprintf("%s.roles[%d]", at, j), "unknown role %q", r)
		}
	}
	for j, s := range k.Scopes {
		if _, exists := cat.Permission(s); !exists {
			v.fail(fmt.Sprintf("%s.scopes[%d]", at, j), "unknown permission %q (API key scopes narrow to permissions)", s)
		}
	}
	if k.Expires != "" {
		t, err := time.Parse(time.RFC3339, k.Expires)
		if err != nil {
			v.fail(at+".expires", "invalid time %q (RFC 3339, e.g. 2027-01-01T00:00:00Z)", k.Expires)
		}
		out.ExpiresAt = t
	}
	for j, c := range k.CIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			v.fail(fmt.Sprintf("%s.cidrs[%d]", at, j), "invalid CIDR %q", c)
			continue
		}
		out.CIDRs = append(out.CIDRs, p.Masked())
	}
	if !ok {
		return nil
	}
	return out
}

// lineOf returns the 1-based line of the first occurrence of s, or 0.
func lineOf(data []byte, s string) int {
	i := strings.Index(string(data), s)
	if i < 0 {
		return 0
	}
	return strings.Count(string(data[:i]), "\n") + 1
}

// decode parses data strictly. go-yaml can panic on some malformed input
// (a tagged empty value, e.g. "bindings: !0", in v1.19.2); a bundle source
// must never crash the gateway, so a panic becomes an error.
func decode(data []byte) (f file, tree *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (the parser failed: %v)", r)
		}
	}()
	if err = yaml.UnmarshalWithOptions(data, &f, yaml.DisallowUnknownField()); err != nil {
		return f, nil, err
	}
	tree, _ = parser.ParseBytes(data, 0)
	return f, tree, nil
}
