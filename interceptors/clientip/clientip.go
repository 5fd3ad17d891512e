// Package clientip resolves the client address of a gRPC call, once and
// the same way for every stage that needs it: API-key address allow-lists
// (authn), `context.client_ip` in conditions (authz), client-IP rate-limit
// keys (ratelimit) and the audit record.
//
// The address is the TCP peer, or for the gateway's REST front (with
// WithTrustInternalMetadata) the HTTP client's address from the internal
// metadata key policy.KeyClientAddr. When that address is a trusted proxy
// (WithTrustedProxies), the forwarding header (WithHeader) is read right to
// left, trusted proxies are skipped, and the first other address is the
// client's. A peer that is not trusted cannot choose its address: its
// forwarding headers are ignored.
package clientip

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/policy"
)

// Header names the forwarding header that trusted proxies set.
type Header uint8

const (
	// XForwardedFor is "X-Forwarded-For" (metadata key "x-forwarded-for"),
	// the default. grpc-gateway appends the REST peer to it, so it is the
	// right choice behind the gateway's REST front.
	XForwardedFor Header = iota
	// Forwarded is RFC 7239 "Forwarded" (metadata key "forwarded"), its
	// for= parameters.
	Forwarded
)

// maxHops bounds how many forwarding entries are read, right to left.
const maxHops = 32

// Resolver resolves client addresses. Its zero value (and New()) uses the
// TCP peer only. It is immutable and safe for concurrent use.
type Resolver struct {
	trustInternal bool
	trusted       []netip.Prefix
	header        Header
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithTrustInternalMetadata takes the client address of REST calls from the
// internal metadata key policy.KeyClientAddr, when policy.KeyTransport is
// "http". Only set it where those keys are stripped from client input, as
// the gateway does. A value that is not an address falls back to the TCP
// peer. Default false: the TCP peer is always used.
func WithTrustInternalMetadata(trust bool) Option {
	return func(r *Resolver) { r.trustInternal = trust }
}

// WithTrustedProxies sets the proxies whose forwarding header is believed.
// Only list layer-7 proxies that append to (or overwrite) that header, by
// their own narrow prefixes: any host inside a trusted prefix can claim any
// client address. Default none.
func WithTrustedProxies(prefixes []netip.Prefix) Option {
	return func(r *Resolver) { r.trusted = prefixes }
}

// WithHeader chooses which forwarding header trusted proxies set. Only that
// one is read: if either were accepted, a client could send the one its
// proxy does not touch and pick its own address. Default XForwardedFor.
func WithHeader(h Header) Option { return func(r *Resolver) { r.header = h } }

// New returns a Resolver configured by opts.
func New(opts ...Option) *Resolver {
	r := &Resolver{}
	for _, opt := range opts {
		opt(r)
	}
	r.trusted = append([]netip.Prefix(nil), r.trusted...)
	for i, p := range r.trusted {
		// Addresses are compared unmapped, so an IPv4-mapped prefix
		// (::ffff:10.0.0.0/104) is its IPv4 prefix (10.0.0.0/8).
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		r.trusted[i] = p.Masked()
	}
	return r
}

// Addr returns the client's address (unmapped, without zone), or the zero
// Addr when the call has no IP address at all (an in-memory connection, a
// Unix socket). It does not allocate.
func (r *Resolver) Addr(ctx context.Context) netip.Addr {
	var a netip.Addr
	if r.trustInternal && first(ctx, policy.KeyTransport) == policy.TransportHTTP {
		a = ParseHost(first(ctx, policy.KeyClientAddr))
	}
	if !a.IsValid() {
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			a = addrOf(p.Addr)
		}
	}
	if !a.IsValid() || !r.isTrusted(a) {
		return a
	}
	if f := r.forwarded(ctx); f.IsValid() {
		return f
	}
	return a
}

// String is Addr as text: "" for the zero Addr.
func (r *Resolver) String(ctx context.Context) string {
	if a := r.Addr(ctx); a.IsValid() {
		return a.String()
	}
	return ""
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded walks the configured forwarding header right to left (the
// nearest hop first), skipping trusted proxies, and returns the first
// untrusted address. At an entry it cannot parse it stops, since nothing
// left of it can be trusted, and returns the last address it did parse
// (a trusted proxy): the call is then attributed to that proxy, not to a
// name the client made up. It returns the zero Addr if no entry parses.
func (r *Resolver) forwarded(ctx context.Context) netip.Addr {
	var vals []string
	parse := ParseHost
	if r.header == Forwarded {
		vals, parse = policy.IncomingValue(ctx, "forwarded"), parseForwardedFor
	} else {
		vals = policy.IncomingValue(ctx, "x-forwarded-for")
	}
	var last netip.Addr
	hops := 0
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for v != "" && hops < maxHops {
			var hop string
			if j := lastComma(v); j >= 0 {
				v, hop = v[:j], v[j+1:]
			} else {
				v, hop = "", v
			}
			hops++
			a := parse(strings.TrimSpace(hop))
			if !a.IsValid() {
				return last
			}
			if !r.isTrusted(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// lastComma returns the index of the last comma of v outside a quoted
// string, or -1.
func lastComma(v string) int {
	quoted := false
	for i := len(v) - 1; i >= 0; i-- {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// parseForwardedFor returns the address of the for= parameter of one
// RFC 7239 forwarded-element, e.g. `for=192.0.2.60;proto=http` or
// `for="[2001:db8:cafe::17]:4711"`. "unknown", obfuscated identifiers and
// elements without for= give the zero Addr.
func parseForwardedFor(element string) netip.Addr {
	for pair := range strings.SplitSeq(element, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return ParseHost(v)
	}
	return netip.Addr{}
}

// ParseHost parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port", drops any
// zone and unmaps IPv4-mapped IPv6 addresses. Anything else gives the zero
// Addr.
//
// The form is told from the text first, so that well-formed input parses
// once and without the error values (allocations) of a failed attempt.
func ParseHost(s string) netip.Addr {
	withPort := strings.HasPrefix(s, "[") && strings.Contains(s, "]:") ||
		!strings.HasPrefix(s, "[") && strings.Count(s, ":") == 1
	if withPort {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().WithZone("").Unmap()
		}
		return netip.Addr{}
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	return netip.Addr{}
}

// addrOf returns the IP of a peer address, or the zero Addr for non-IP
// addresses (bufconn, unix sockets).
func addrOf(addr net.Addr) netip.Addr {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap().WithZone("")
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap().WithZone("")
	}
	return ParseHost(addr.String())
}

// first returns the first value of an incoming metadata key (lower case),
// without copying the metadata as metadata.FromIncomingContext does.
func first(ctx context.Context, key string) string {
	if v := policy.IncomingValue(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}
