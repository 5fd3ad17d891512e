package ratelimit

import (
	"net/netip"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// TestIPKeyCache: cached client-IP keys are exactly the uncached format,
// per method and per IPv6 prefix, stay right when many addresses collide
// and evict each other, and a hit allocates nothing.
func TestIPKeyCache(t *testing.T) {
	c := newIPKeyCache()
	a, b := &policy.Method{FullMethod: "/p.S/A"}, &policy.Method{FullMethod: "/p.S/B"}
	want := func(m *policy.Method, v string) string { return m.FullMethod + "|client_ip|" + v }
	for _, tc := range []struct {
		m    *policy.Method
		addr string
		bits int
		want string
	}{
		{a, "192.0.2.1", 64, want(a, "192.0.2.1")},
		{b, "192.0.2.1", 64, want(b, "192.0.2.1")},
		{a, "2001:db8:1:2:3:4:5:6", 64, want(a, "2001:db8:1:2::/64")},
		{a, "2001:db8:1:2:ffff::1", 64, want(a, "2001:db8:1:2::/64")},
		{a, "2001:db8:1:2:3:4:5:6", 128, want(a, "2001:db8:1:2:3:4:5:6")},
		{a, "2001:db8:1:2:3:4:5:6", 48, want(a, "2001:db8:1::/48")},
		{a, "", 64, want(a, "unknown")},
	} {
		var addr netip.Addr
		if tc.addr != "" {
			addr = netip.MustParseAddr(tc.addr)
		}
		for range 2 { // miss, then hit
			if got := c.key(tc.m, addr, tc.bits); got != tc.want {
				t.Errorf("key(%s, %q, %d) = %q, want %q", tc.m.FullMethod, tc.addr, tc.bits, got, tc.want)
			}
		}
	}
	// Ten times more addresses than slots: collisions overwrite entries,
	// never return another pair's key.
	for i := range 10 * ipKeySlots {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		m := a
		if i%2 == 1 {
			m = b
		}
		if got, w := c.key(m, addr, 64), want(m, addr.String()); got != w {
			t.Fatalf("key(%s, %s) = %q, want %q", m.FullMethod, addr, got, w)
		}
	}
	hit := netip.MustParseAddr("198.51.100.7")
	c.key(a, hit, 64)
	if n := testing.AllocsPerRun(100, func() { c.key(a, hit, 64) }); n != 0 {
		t.Errorf("cache hit: %v allocations, want 0", n)
	}
}

// BenchmarkIPKey is the client-IP key of a call: cached (the same client
// again) against building it (what every call did before the cache).
func BenchmarkIPKey(b *testing.B) {
	m := &policy.Method{FullMethod: "/examples.bank.v1.BankService/Ping"}
	addr := netip.MustParseAddr("192.0.2.44")
	b.Run("cached", func(b *testing.B) {
		c := newIPKeyCache()
		b.ReportAllocs()
		for b.Loop() {
			_ = c.key(m, addr, 64)
		}
	})
	b.Run("built", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = m.FullMethod + "|" + policy.KeyClientIP.String() + "|" + boundValue(clientKeyValue(addr, 64))
		}
	})
}
