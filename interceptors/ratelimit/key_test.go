package ratelimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

func hashed(v string) string {
	h := sha256.Sum256([]byte(v))
	return "~" + base64.RawURLEncoding.EncodeToString(h[:16])
}

// TestKeys checks the key of every key kind and its fallbacks, through
// both interceptors.
func TestKeys(t *testing.T) {
	k := func(kind, value string) string { return testMethod + "|" + kind + "|" + value }
	rl := func(key policy.RateLimitKey, field string) *policy.RateLimit {
		return &policy.RateLimit{Rate: 10, Period: time.Minute, Key: key, Field: field}
	}
	long := strings.Repeat("a", 65)
	req := &testpb.SimpleRequest{ResponseSize: 42, Payload: &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE}}
	for _, tc := range []struct {
		name  string
		rl    *policy.RateLimit
		p     *policy.Principal
		peer  string
		md    []string
		req   proto.Message
		opts  []ratelimit.Option
		want  string
		unary bool // only for the unary interceptor (request as argument)
	}{
		{name: "principal", rl: rl(policy.KeyPrincipal, ""), p: user("alice"), peer: "192.0.2.1:5000", want: k("principal", "alice")},
		{name: "principal anonymous", rl: rl(policy.KeyPrincipal, ""), p: &policy.Principal{ID: "anon", Kind: policy.KindAnonymous}, peer: "192.0.2.1:5000", want: k("client_ip", "192.0.2.1")},
		{name: "principal none", rl: rl(policy.KeyPrincipal, ""), peer: "192.0.2.1:5000", want: k("client_ip", "192.0.2.1")},
		{name: "principal empty id", rl: rl(policy.KeyPrincipal, ""), p: user(""), peer: "192.0.2.1:5000", want: k("client_ip", "192.0.2.1")},
		{name: "credential", rl: rl(policy.KeyCredential, ""), p: &policy.Principal{ID: "alice", Kind: policy.KindUser, CredentialID: "jti-1"}, want: k("credential", "jti-1")},
		{name: "credential without id", rl: rl(policy.KeyCredential, ""), p: user("alice"), want: k("principal", "alice")},
		{name: "credential anonymous", rl: rl(policy.KeyCredential, ""), peer: "192.0.2.1:5000", want: k("client_ip", "192.0.2.1")},
		{name: "tenant", rl: rl(policy.KeyTenant, ""), p: &policy.Principal{ID: "alice", Kind: policy.KindUser, Tenant: "acme"}, want: k("tenant", "acme")},
		{name: "tenant empty", rl: rl(policy.KeyTenant, ""), p: user("alice"), want: k("principal", "alice")},
		{name: "client ip", rl: rl(policy.KeyClientIP, ""), p: user("alice"), peer: "192.0.2.1:5000", want: k("client_ip", "192.0.2.1")},
		{name: "client ip v6 /64", rl: rl(policy.KeyClientIP, ""), peer: "[2001:db8:1:2:3:4:5:6]:443", want: k("client_ip", "2001:db8:1:2::/64")},
		{name: "client ip v6 /128", rl: rl(policy.KeyClientIP, ""), peer: "[2001:db8:1:2:3:4:5:6]:443",
			opts: []ratelimit.Option{ratelimit.WithIPv6PrefixLen(128)}, want: k("client_ip", "2001:db8:1:2:3:4:5:6")},
		{name: "client ip v4-mapped", rl: rl(policy.KeyClientIP, ""), peer: "[::ffff:192.0.2.1]:443", want: k("client_ip", "192.0.2.1")},
		{name: "client ip none", rl: rl(policy.KeyClientIP, ""), want: k("client_ip", "unknown")},
		{name: "rest client addr trusted", rl: rl(policy.KeyClientIP, ""), peer: "127.0.0.1:1",
			md:   []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "198.51.100.7:4444"},
			opts: []ratelimit.Option{ratelimit.WithTrustInternalMetadata(true)}, want: k("client_ip", "198.51.100.7")},
		{name: "rest client addr untrusted", rl: rl(policy.KeyClientIP, ""), peer: "127.0.0.1:1",
			md:   []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "198.51.100.7:4444"},
			want: k("client_ip", "127.0.0.1")},
		{name: "field", rl: rl(policy.KeyRequestField, "response_size"), req: req, want: k("request_field", "42")},
		{name: "nested field", rl: rl(policy.KeyRequestField, "payload.type"), req: req, want: k("request_field", "0")},
		{name: "nested field unset", rl: rl(policy.KeyRequestField, "payload.type"), req: &testpb.SimpleRequest{}, want: k("request_field", "")},
		{name: "field without request", rl: rl(policy.KeyRequestField, "response_size"), peer: "192.0.2.1:5000", want: k("client_ip", "192.0.2.1")},
		{name: "long value hashed", rl: rl(policy.KeyPrincipal, ""), p: user(long), want: k("principal", hashed(long))},
		{name: "64 bytes kept", rl: rl(policy.KeyPrincipal, ""), p: user(long[:64]), want: k("principal", long[:64])},
		{name: "separator hashed", rl: rl(policy.KeyPrincipal, ""), p: user("a|client_ip|1.2.3.4"), want: k("principal", hashed("a|client_ip|1.2.3.4"))},
		{name: "tilde hashed", rl: rl(policy.KeyPrincipal, ""), p: user("~x"), want: k("principal", hashed("~x"))},
		{name: "spiffe id kept", rl: rl(policy.KeyPrincipal, ""), p: user("spiffe://bank/ns/prod/sa/api"), want: k("principal", "spiffe://bank/ns/prod/sa/api")},
	} {
		for _, ic := range interceptors {
			t.Run(tc.name+"/"+ic.name, func(t *testing.T) {
				ctx := testContext(t)
				if tc.p != nil {
					ctx = withPrincipal(ctx, tc.p)
				}
				if tc.peer != "" {
					ctx = withPeer(ctx, tc.peer)
				}
				if tc.md != nil {
					ctx = withMD(ctx, tc.md...)
				}
				got := keyFor(t, ic, ctx, baseOptions(limited(tc.rl), tc.opts...), tc.req)
				if got != tc.want {
					t.Errorf("%s key = %q, want %q", ic.name, got, tc.want)
				}
			})
		}
	}
}

// TestClientIP checks the forwarding headers: ignored from untrusted
// peers (a spoofed X-Forwarded-For changes nothing), read right to left
// from trusted proxies.
// TestClientIP checks that the options reach the client address of
// client-IP keys (interceptors/clientip tests the resolution itself).
func TestClientIP(t *testing.T) {
	proxies := ratelimit.WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	forwarded := ratelimit.WithProxyHeader(ratelimit.HeaderForwarded)
	rest := ratelimit.WithTrustInternalMetadata(true)
	fixed := ratelimit.WithClientAddrFunc(func(context.Context) netip.Addr { return netip.MustParseAddr("192.0.2.44") })
	for _, tc := range []struct {
		name string
		peer string
		md   []string
		opts []ratelimit.Option
		want string
	}{
		{"no proxies configured", "10.0.0.1:1", []string{"x-forwarded-for", "6.6.6.6"}, nil, "10.0.0.1"},
		{"spoofed from untrusted peer", "203.0.113.9:1", []string{"x-forwarded-for", "6.6.6.6"}, []ratelimit.Option{proxies}, "203.0.113.9"},
		{"one hop", "10.0.0.1:1", []string{"x-forwarded-for", "198.51.100.7"}, []ratelimit.Option{proxies}, "198.51.100.7"},
		{"forwarded", "10.0.0.1:1", []string{"forwarded", "for=198.51.100.7"}, []ratelimit.Option{proxies, forwarded}, "198.51.100.7"},
		{"xff ignored when forwarded chosen", "10.0.0.1:1", []string{"x-forwarded-for", "6.6.6.6"}, []ratelimit.Option{proxies, forwarded}, "10.0.0.1"},
		{"rest via trusted proxy", "127.0.0.1:1", []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "10.0.0.5:1234", "x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.5"},
			[]ratelimit.Option{proxies, rest}, "198.51.100.7"},
		{"rest keys not trusted", "127.0.0.1:1", []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "10.0.0.5:1234"}, nil, "127.0.0.1"},
		{"client address function", "10.0.0.1:1", []string{"x-forwarded-for", "198.51.100.7"}, []ratelimit.Option{proxies, fixed}, "192.0.2.44"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := withPeer(testContext(t), tc.peer)
			if tc.md != nil {
				ctx = withMD(ctx, tc.md...)
			}
			rl := &policy.RateLimit{Rate: 1, Period: time.Second, Key: policy.KeyClientIP}
			opts := baseOptions(limited(rl), append(tc.opts, ratelimit.WithIPv6PrefixLen(128))...)
			got := strings.TrimPrefix(keyFor(t, interceptors[0], ctx, opts, nil), testMethod+"|client_ip|")
			if got != tc.want {
				t.Errorf("client IP(peer %s, %q) = %s, want %s", tc.peer, tc.md, got, tc.want)
			}
		})
	}
}

// TestKeysSeparate checks that different keys count apart and the same key
// together, with a real Memory store.
func TestKeysSeparate(t *testing.T) {
	rl := &policy.RateLimit{Rate: 1, Period: time.Hour, Key: policy.KeyPrincipal}
	opts := baseOptions(limited(rl))
	for _, ic := range interceptors {
		t.Run(ic.name, func(t *testing.T) {
			s := ratelimit.NewMemory()
			for i, tc := range []struct {
				who  string
				want bool
			}{{"alice", true}, {"bob", true}, {"alice", false}, {"bob", false}, {"carol", true}} {
				o := ic.call(withPrincipal(testContext(t), user(tc.who)), s, opts, nil)
				if o.called != tc.want {
					t.Errorf("call %d by %s: %s() = %v, want allowed %v", i, tc.who, ic.name, o.err, tc.want)
				}
			}
		})
	}
}
