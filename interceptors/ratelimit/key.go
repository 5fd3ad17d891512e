package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"hash/maphash"
	"net/netip"
	"strings"
	"sync/atomic"

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
	return o.keyFor(ctx, m, rl.Key, rl.Field, req)
}

// keyFor is key for the wanted kind of key.
func (o *options) keyFor(ctx context.Context, m *policy.Method, want policy.RateLimitKey, field string, req any) string {
	kind, value := o.keyValue(ctx, want, field, req)
	if kind == policy.KeyClientIP {
		return o.ipKeys.key(m, o.clientIP(ctx), o.ipv6Bits)
	}
	return m.FullMethod + "|" + kind.String() + "|" + boundValue(value)
}

// keyValue returns the kind of key used and its raw value ("" for
// KeyClientIP: keyFor takes the address itself).
func (o *options) keyValue(ctx context.Context, want policy.RateLimitKey, field string, req any) (policy.RateLimitKey, string) {
	if want == policy.KeyClientIP {
		return policy.KeyClientIP, ""
	}
	if want == policy.KeyRequestField {
		msg, ok := req.(proto.Message)
		if !ok || msg == nil {
			msg, ok = o.request(ctx)
		}
		if ok && msg != nil {
			return policy.KeyRequestField, fields.String(msg, field)
		}
		return policy.KeyClientIP, ""
	}
	p, ok := o.principal(ctx)
	if !ok || p == nil || p.ID == "" || p.Kind == policy.KindAnonymous {
		return policy.KeyClientIP, ""
	}
	switch {
	case want == policy.KeyCredential && p.CredentialID != "":
		return policy.KeyCredential, p.CredentialID
	case want == policy.KeyTenant && p.Tenant != "":
		return policy.KeyTenant, p.Tenant
	}
	return policy.KeyPrincipal, p.ID
}

// clientKeyValue is the client-IP key value of a: the address, an IPv6
// address cut to its first bits (as a prefix), or "unknown".
func clientKeyValue(a netip.Addr, bits int) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6() && bits < 128:
		p, _ := a.Prefix(bits)
		return p.String()
	}
	return a.String()
}

// ipKeyCache remembers the client-IP keys of recent (method, address)
// pairs, so that the common anonymous call does not format the address
// and build the key string (two allocations) every time. It is a fixed
// table of ipKeySlots entries, each replaced whole by an atomic store: a
// colliding pair overwrites the older one, so its memory is bounded
// whatever clients send, and a lookup takes no lock. Keys depend only on
// the method's name, the address and the IPv6 prefix length, which are
// fixed for an entry, so a stale entry is never wrong, only evicted.
type ipKeyCache struct {
	seed  maphash.Seed
	slots [ipKeySlots]atomic.Pointer[ipKeyEntry]
}

const ipKeySlots = 4096

type ipKeyEntry struct {
	m   *policy.Method
	a   netip.Addr
	key string
}

type ipKeyID struct {
	m *policy.Method
	a netip.Addr
}

func newIPKeyCache() *ipKeyCache { return &ipKeyCache{seed: maphash.MakeSeed()} }

// key returns m's client-IP key for a.
func (c *ipKeyCache) key(m *policy.Method, a netip.Addr, bits int) string {
	if a.Is6() && bits < 128 {
		p, _ := a.Prefix(bits) // the key is per prefix: cache it per prefix too
		a = p.Addr()
	}
	slot := &c.slots[maphash.Comparable(c.seed, ipKeyID{m, a})%ipKeySlots]
	if e := slot.Load(); e != nil && e.m == m && e.a == a {
		return e.key
	}
	key := m.FullMethod + "|" + policy.KeyClientIP.String() + "|" + boundValue(clientKeyValue(a, bits))
	slot.Store(&ipKeyEntry{m: m, a: a, key: key})
	return key
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
