package clientip_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/interceptors/clientip"
	"github.com/portcullis/portcullis/policy"
)

// call is a context as a server sees it: the peer (none for "") and the
// incoming metadata pairs.
func call(t *testing.T, addr string, pairs ...string) context.Context {
	t.Helper()
	ctx := context.Background()
	if addr != "" {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
	}
	return policy.WithIncoming(ctx, metadata.Pairs(pairs...))
}

func TestAddr(t *testing.T) {
	proxies := clientip.WithTrustedProxies([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48"),
	})
	forwarded := clientip.WithHeader(clientip.Forwarded)
	rest := clientip.WithTrustInternalMetadata(true)
	for _, tc := range []struct {
		name string
		peer string
		md   []string
		opts []clientip.Option
		want string // "" for the zero Addr
	}{
		{"no proxies configured", "10.0.0.1:1", []string{"x-forwarded-for", "6.6.6.6"}, nil, "10.0.0.1"},
		{"spoofed from untrusted peer", "203.0.113.9:1", []string{"x-forwarded-for", "6.6.6.6"}, []clientip.Option{proxies}, "203.0.113.9"},
		{"spoofed forwarded from untrusted peer", "203.0.113.9:1", []string{"forwarded", "for=6.6.6.6"}, []clientip.Option{proxies, forwarded}, "203.0.113.9"},
		{"one hop", "10.0.0.1:1", []string{"x-forwarded-for", "198.51.100.7"}, []clientip.Option{proxies}, "198.51.100.7"},
		{"several hops, spoofed leftmost", "10.0.0.1:1", []string{"x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2"}, []clientip.Option{proxies}, "198.51.100.7"},
		{"several header lines", "10.0.0.1:1", []string{"x-forwarded-for", "6.6.6.6", "x-forwarded-for", "198.51.100.7,10.0.0.2"}, []clientip.Option{proxies}, "198.51.100.7"},
		{"with port and brackets", "10.0.0.1:1", []string{"x-forwarded-for", "[2001:db8::1]:443, 10.0.0.2:80"}, []clientip.Option{proxies}, "2001:db8::1"},
		{"all trusted", "10.0.0.1:1", []string{"x-forwarded-for", "10.0.0.3, 10.0.0.2"}, []clientip.Option{proxies}, "10.0.0.3"},
		{"garbage stops at last proxy", "10.0.0.1:1", []string{"x-forwarded-for", "198.51.100.7, nonsense, 10.0.0.2"}, []clientip.Option{proxies}, "10.0.0.2"},
		{"garbage first", "10.0.0.1:1", []string{"x-forwarded-for", "nonsense"}, []clientip.Option{proxies}, "10.0.0.1"},
		{"no header", "10.0.0.1:1", nil, []clientip.Option{proxies}, "10.0.0.1"},
		{"v4-mapped peer is trusted", "[::ffff:10.0.0.1]:1", []string{"x-forwarded-for", "198.51.100.7"}, []clientip.Option{proxies}, "198.51.100.7"},
		{"v6 proxy", "[2001:db8:ffff::1]:1", []string{"x-forwarded-for", "198.51.100.7, 2001:db8:ffff::2"}, []clientip.Option{proxies}, "198.51.100.7"},
		{"zone dropped", "[fe80::1%eth0]:1", nil, nil, "fe80::1"},
		{"forwarded", "10.0.0.1:1", []string{"forwarded", `for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2;by=10.0.0.1`},
			[]clientip.Option{proxies, forwarded}, "2001:db8:cafe::17"},
		{"forwarded case and quotes", "10.0.0.1:1", []string{"forwarded", `proto=http;FOR="198.51.100.7:80"`}, []clientip.Option{proxies, forwarded}, "198.51.100.7"},
		{"forwarded unknown stops", "10.0.0.1:1", []string{"forwarded", "for=198.51.100.7, for=unknown, for=10.0.0.2"}, []clientip.Option{proxies, forwarded}, "10.0.0.2"},
		{"forwarded obfuscated stops", "10.0.0.1:1", []string{"forwarded", "for=_hidden"}, []clientip.Option{proxies, forwarded}, "10.0.0.1"},
		{"forwarded ignored when xff chosen", "10.0.0.1:1", []string{"forwarded", "for=6.6.6.6"}, []clientip.Option{proxies}, "10.0.0.1"},
		{"xff ignored when forwarded chosen", "10.0.0.1:1", []string{"x-forwarded-for", "6.6.6.6"}, []clientip.Option{proxies, forwarded}, "10.0.0.1"},
		{"rest via trusted proxy", "127.0.0.1:1", []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "10.0.0.5:1234", "x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.5"},
			[]clientip.Option{proxies, rest}, "198.51.100.7"},
		{"rest spoofed", "127.0.0.1:1", []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "198.51.100.7:1234", "x-forwarded-for", "6.6.6.6, 198.51.100.7"},
			[]clientip.Option{proxies, rest}, "198.51.100.7"},
		{"rest keys not trusted", "127.0.0.1:1", []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "10.0.0.5:1234"}, []clientip.Option{proxies}, "127.0.0.1"},
		{"client addr without the http transport", "127.0.0.1:1", []string{policy.KeyClientAddr, "10.0.0.5:1234"}, []clientip.Option{rest}, "127.0.0.1"},
		{"unparseable rest addr falls back to the peer", "127.0.0.1:1", []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "bufconn"}, []clientip.Option{rest}, "127.0.0.1"},
		{"no peer", "", []string{"x-forwarded-for", "6.6.6.6"}, []clientip.Option{proxies}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := clientip.New(tc.opts...)
			ctx := call(t, tc.peer, tc.md...)
			got := r.Addr(ctx)
			if tc.want == "" && got.IsValid() || tc.want != "" && got != netip.MustParseAddr(tc.want) {
				t.Errorf("Addr(peer %s, %q) = %v, want %q", tc.peer, tc.md, got, tc.want)
			}
			if s := r.String(ctx); s != tc.want {
				t.Errorf("String() = %q, want %q", s, tc.want)
			}
		})
	}
}

// TestHopBound: at most 32 forwarding entries are read, so a header of
// trusted hops cannot make the walk long; the call is attributed to the
// last trusted hop read.
func TestHopBound(t *testing.T) {
	r := clientip.New(clientip.WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}))
	v := "198.51.100.7"
	for i := range 40 {
		v += ", 10.0.0." + string(rune('0'+i%10))
	}
	if got := r.Addr(call(t, "10.0.0.1:1", "x-forwarded-for", v)); !got.Is4() || !netip.MustParsePrefix("10.0.0.0/8").Contains(got) {
		t.Errorf("Addr(41 hops) = %v, want a trusted hop (the walk stops after 32 entries)", got)
	}
}

func TestMappedPrefix(t *testing.T) {
	r := clientip.New(clientip.WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}))
	if got := r.Addr(call(t, "10.0.0.1:1", "x-forwarded-for", "198.51.100.7")); got != netip.MustParseAddr("198.51.100.7") {
		t.Errorf("Addr via ::ffff:10.0.0.0/104 = %v, want 198.51.100.7 (the prefix is 10.0.0.0/8)", got)
	}
}

func TestAddrAllocs(t *testing.T) {
	r := clientip.New(clientip.WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}), clientip.WithTrustInternalMetadata(true))
	ctx := call(t, "10.0.0.1:1", "x-forwarded-for", "198.51.100.7, 10.0.0.2")
	if n := testing.AllocsPerRun(100, func() { _ = r.Addr(ctx) }); n != 0 {
		t.Errorf("Addr allocates %v times, want 0", n)
	}
}

func BenchmarkAddr(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []clientip.Option
		md   []string
	}{
		{"peer", nil, nil},
		{"trusted-proxy", []clientip.Option{clientip.WithTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})},
			[]string{"x-forwarded-for", "198.51.100.7, 10.0.0.2"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := clientip.New(bc.opts...)
			ap := netip.MustParseAddrPort("10.0.0.1:1")
			ctx := policy.WithIncoming(peer.NewContext(context.Background(), &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)}), metadata.Pairs(bc.md...))
			b.ReportAllocs()
			for b.Loop() {
				_ = r.Addr(ctx)
			}
		})
	}
}
