package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/fields"
)

// maxRawValue is the longest key value used as is; longer ones are hashed.
const maxRawValue = 64

// key returns the counting key of a call: "<method>|<kind>|<value>", where
// kind is the key actually used (a principal-keyed limit counts an
// anonymous call per client IP) and value is bounded by boundValue.
func (o *options) key(ctx context.Context, m *policy.Method, rl *policy.RateLimit, req any) string {
	kind, value := o.keyValue(ctx, rl.Key, rl.Field, req)
	return m.FullMethod + "|" + kind.String() + "|" + boundValue(value)
}

// keyValue returns the kind of key used and its raw value.
func (o *options) keyValue(ctx context.Context, want policy.RateLimitKey, field string, req any) (policy.RateLimitKey, string) {
	if want == policy.KeyClientIP {
		return policy.KeyClientIP, o.clientKey(ctx)
	}
	if want == policy.KeyRequestField {
		msg, ok := req.(proto.Message)
		if !ok || msg == nil {
			msg, ok = o.request(ctx)
		}
		if ok && msg != nil {
			return policy.KeyRequestField, fields.String(msg, field)
		}
		return policy.KeyClientIP, o.clientKey(ctx)
	}
	p, ok := o.principal(ctx)
	if !ok || p == nil || p.ID == "" || p.Kind == policy.KindAnonymous {
		return policy.KeyClientIP, o.clientKey(ctx)
	}
	switch {
	case want == policy.KeyCredential && p.CredentialID != "":
		return policy.KeyCredential, p.CredentialID
	case want == policy.KeyTenant && p.Tenant != "":
		return policy.KeyTenant, p.Tenant
	}
	return policy.KeyPrincipal, p.ID
}

// clientKey is the client-IP key value: the address, an IPv6 address cut
// to its prefix, or "unknown".
func (o *options) clientKey(ctx context.Context) string {
	a := o.clientIP(ctx)
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6() && o.ipv6Bits < 128:
		p, _ := a.Prefix(o.ipv6Bits)
		return p.String()
	}
	return a.String()
}

// boundValue returns v if it is short and made of safe characters, else
// "~" and 22 characters of its SHA-256, so that keys stay bounded (in
// Redis too) and cannot smuggle separators. "~" is not a safe character,
// so a raw value never looks like a hashed one. SHA-256, not a fast hash:
// values come from clients, and colliding with a victim's key would let
// a client spend the victim's limit.
func boundValue(v string) string {
	if len(v) <= maxRawValue && safe(v) {
		return v
	}
	h := sha256.Sum256([]byte(v))
	return "~" + base64.RawURLEncoding.EncodeToString(h[:16])
}

func safe(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-_.:@/+=", c) >= 0) {
			return false
		}
	}
	return true
}
