package bundle

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// overrides validates per-method overrides: each may only tighten the
// compiled policy. Loosening (making a method public, dropping a required
// permission, raising a rate limit) is an error naming the item.
func (v *validator) overrides(b *policy.Bundle, f *file, cat Catalog) {
	names := make([]string, 0, len(f.Overrides))
	for n := range f.Overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		o := f.Overrides[name]
		at := `$.overrides."` + name + `"`
		m, ok := cat.Lookup(name)
		if !ok {
			v.fail(at, "unknown method %q (not in the compiled tables; see `portcullis policy show`)", name)
			continue
		}
		out := &policy.Override{Method: name, Disabled: o.Disabled, Condition: o.Condition}
		if o.Public != nil && *o.Public && !m.Public {
			v.fail(at+".public", "would make the protected method %s public: overrides may only tighten", name)
		}
		if len(o.Permissions) > 0 {
			if m.Public {
				v.fail(at+".permissions", "%s is public; an override cannot add permissions to it (disable it instead)", name)
			}
			for _, p := range m.Permissions {
				if !slices.Contains(o.Permissions, p) {
					v.fail(at+".permissions", "would drop the compiled permission %q: list every compiled permission and add to them", p)
				}
			}
			for i, p := range o.Permissions {
				perm, ok := cat.Permission(p)
				switch {
				case !ok:
					v.fail(fmt.Sprintf("%s.permissions[%d]", at, i), "unknown permission %q", p)
				case perm.Internal:
					v.fail(fmt.Sprintf("%s.permissions[%d]", at, i), "permission %q is internal", p)
				case !slices.Contains(m.Permissions, p):
					out.Permissions = append(out.Permissions, p)
				}
			}
		}
		if o.RateLimit != nil {
			out.RateLimit = v.tighterLimit(at+".rate_limit", m, o.RateLimit)
		}
		if b.Overrides == nil {
			b.Overrides = map[string]*policy.Override{}
		}
		b.Overrides[name] = out
	}
}

// tighterLimit checks that r is no looser than m's compiled limit.
func (v *validator) tighterLimit(at string, m *policy.Method, r *rateLimit) *policy.RateLimit {
	var rate uint32
	var period time.Duration
	n := 0
	for _, c := range []struct {
		rate   uint32
		period time.Duration
	}{{r.PerSecond, time.Second}, {r.PerMinute, time.Minute}, {r.PerHour, time.Hour}} {
		if c.rate > 0 {
			rate, period = c.rate, c.period
			n++
		}
	}
	if n != 1 {
		v.fail(at, "set exactly one positive per_second, per_minute or per_hour")
		return nil
	}
	out := &policy.RateLimit{Rate: rate, Period: period, Burst: r.Burst, Key: policy.KeyPrincipal}
	if m.Public {
		out.Key = policy.KeyClientIP
	}
	c := m.RateLimit
	if c == nil {
		return out // adding a limit where none was compiled only tightens
	}
	out.Key, out.Field, out.Shadow = c.Key, c.Field, c.Shadow
	// Compare rates as calls per hour, exactly: rate/period ≤ compiled.
	perHour := func(rate uint32, p time.Duration) float64 { return float64(rate) * float64(time.Hour) / float64(p) }
	if perHour(rate, period) > perHour(c.Rate, c.Period) {
		v.fail(at, "would raise the limit above the compiled %d per %s: overrides may only lower it", c.Rate, c.Period)
	}
	if r.Burst > c.Burst {
		v.fail(at+".burst", "would raise the burst above the compiled %d", c.Burst)
	}
	return out
}
