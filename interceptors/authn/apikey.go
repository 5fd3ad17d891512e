package authn

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// KeySource looks up API key entries by key id (the public part of
// "pcs_<id>_<secret>"). The policy bundle implements it. The interceptors
// call it on every call that presents an API key, concurrently, so a
// source may change its answers at any time (a bundle reload revoking a
// key takes effect on the next call); it must be safe for concurrent use.
// The returned entry is not modified.
type KeySource interface {
	APIKey(id string) (*policy.APIKey, bool)
}

// KeySourceFunc adapts a function to a KeySource. The function is called
// concurrently and must be safe for that.
type KeySourceFunc func(id string) (*policy.APIKey, bool)

// APIKey calls f(id).
func (f KeySourceFunc) APIKey(id string) (*policy.APIKey, bool) { return f(id) }

// apiKey authenticates an "x-api-key" value.
func (a *Authenticator) apiKey(raw string, c *conn, now time.Time) (*policy.Principal, string) {
	if !a.cfg.APIKeys {
		return nil, "api key: API keys are not enabled on this listener"
	}
	id, secret, err := policy.ParseAPIKey(raw)
	if err != nil {
		return nil, "api key: malformed"
	}
	// Hash first, so that the work done does not depend on whether the id
	// exists.
	sum := policy.HashAPIKey(id, secret)
	k, ok := a.keys.APIKey(id)
	switch {
	case !ok || k == nil:
		return nil, fmt.Sprintf("api key %s: unknown", id)
	case subtle.ConstantTimeCompare(sum[:], k.Hash[:]) != 1:
		return nil, fmt.Sprintf("api key %s: wrong secret", id)
	}
	return a.keyPrincipal(id, k, c, now)
}

// APIKeyPrincipal returns the principal an API-key call with key id would
// get, for explaining a key's access without its secret (the bundle holds
// only its hash): every check of an API-key call except the secret's
// (unknown, disabled or expired key, its cidrs against the client address
// of ctx), with the refusal reason when one fails. It must never be used to
// authenticate a call.
func (a *Authenticator) APIKeyPrincipal(ctx context.Context, id string) (*policy.Principal, string) {
	if !a.cfg.APIKeys {
		return nil, "api key: API keys are not enabled on this listener"
	}
	k, ok := a.keys.APIKey(id)
	if !ok || k == nil {
		return nil, fmt.Sprintf("api key %s: unknown", id)
	}
	c := connection(ctx, a.o.trustInternal, a.o.clientAddr)
	return a.keyPrincipal(id, k, &c, a.o.now())
}

// keyPrincipal checks entry k of key id, whose secret matched, and returns
// its principal or the refusal reason.
func (a *Authenticator) keyPrincipal(id string, k *policy.APIKey, c *conn, now time.Time) (*policy.Principal, string) {
	switch {
	case k.Disabled:
		return nil, fmt.Sprintf("api key %s: disabled", id)
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return nil, fmt.Sprintf("api key %s: expired at %s", id, k.ExpiresAt.UTC().Format(time.RFC3339))
	case k.Principal == "":
		return nil, fmt.Sprintf("api key %s: entry names no principal", id)
	}
	kind := k.Kind
	if kind == "" {
		kind = policy.KindUser
	}
	if !isKind(kind) {
		return nil, fmt.Sprintf("api key %s: entry has kind %q", id, k.Kind)
	}
	if len(k.CIDRs) > 0 {
		addr := c.clientAddr()
		if !addr.IsValid() {
			return nil, fmt.Sprintf("api key %s: restricted to %v and the client address is unknown", id, k.CIDRs)
		}
		allowed := false
		for _, p := range k.CIDRs {
			if p.Contains(addr) {
				allowed = true
				break
			}
		}
		if !allowed {
			return nil, fmt.Sprintf("api key %s: client address %s not in %v", id, addr, k.CIDRs)
		}
	}
	p := &policy.Principal{
		ID:           k.Principal,
		Kind:         kind,
		Credential:   policy.CredentialAPIKey,
		CredentialID: id,
		Issuer:       "api-key",
		Roles:        k.Roles,
		Scopes:       k.Scopes,
		HasScopes:    len(k.Scopes) > 0,
		Tenant:       k.Tenant,
		ExpiresAt:    k.ExpiresAt,
	}
	c.stamp(p)
	return p, ""
}
