package policy

import "time"

// Bundle is one version of the data layer of policy: roles, subject
// bindings and API keys. It is loaded from a bundle file (see package
// gateway/bundle), validated against the compiled permission catalog, and
// never modified afterwards; a new version is a new Bundle.
type Bundle struct {
	// Version labels this bundle, e.g. "2026-12-01.3". Every decision
	// records it.
	Version string
	// Author and Message describe the change, for reviews and rollbacks.
	Author  string
	Message string
	// Source is where the bundle was loaded from (a path or URL).
	Source string
	// LoadedAt is when it was loaded.
	LoadedAt time.Time

	// Roles by name.
	Roles map[string]*Role
	// Bindings grant roles to subjects.
	Bindings []Binding
	// APIKeys by id.
	APIKeys map[string]*APIKey
	// SigningKeys are the request-signing public keys, by keyid.
	SigningKeys map[string]*SigningKey
	// Grants give permissions directly to service identities configured by
	// the operator (never by a bundle). This is the only way to hold an
	// internal permission.
	Grants []Grant
	// Overrides tighten the compiled policy of single methods, by full
	// method name. They can never loosen it (the loader rejects that).
	Overrides map[string]*Override
}

// Override tightens one method's compiled policy without a redeploy.
type Override struct {
	// Method is the full method name.
	Method string
	// Disabled refuses every call of the method (an emergency stop).
	Disabled bool
	// Permissions are required in addition to the compiled ones (all of
	// them).
	Permissions []string
	// Condition is a CEL expression that must also hold.
	Condition string
	// RateLimit replaces the compiled limit; it is never looser (lower or
	// equal rate, lower or equal burst, same key).
	RateLimit *RateLimit
}

// Role is a named set of permissions.
type Role struct {
	Name        string
	Permissions []string
	// Condition, when set, is a CEL expression over principal and context
	// that must hold for the role to apply to a call.
	Condition string
}

// Binding grants Roles to every listed subject.
type Binding struct {
	Roles []string
	// Users and Services are principal ids (token subjects, API key
	// owners); Groups match the principal's mapped groups claim; SPIFFE
	// matches the client certificate's SPIFFE ID.
	Users    []string
	Groups   []string
	Services []string
	SPIFFE   []string
}

// Grant gives permissions to a subject without a role. Grants come from
// the gateway configuration.
type Grant struct {
	// Subject is a principal id or SPIFFE ID.
	Subject     string
	Permissions []string
}

// SigningKey returns the request-signing key with the given keyid. A nil
// bundle has none.
func (b *Bundle) SigningKey(id string) (*SigningKey, bool) {
	if b == nil {
		return nil, false
	}
	k, ok := b.SigningKeys[id]
	return k, ok
}

// APIKey returns the key entry with the given id. A nil bundle has none.
// It makes Bundle an authn.KeySource.
func (b *Bundle) APIKey(id string) (*APIKey, bool) {
	if b == nil {
		return nil, false
	}
	k, ok := b.APIKeys[id]
	return k, ok
}
