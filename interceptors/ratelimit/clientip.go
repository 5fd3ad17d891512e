package ratelimit

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/policy"
)

// maxHops bounds how many forwarding entries are read, right to left.
const maxHops = 32

// clientIP returns the client's address: the TCP peer, or the REST client
// address when internal metadata is trusted; then, if that address is a
// trusted proxy, the first untrusted address of the forwarding header read
// right to left. It returns the zero Addr when there is no address at all.
func (o *options) clientIP(ctx context.Context) netip.Addr {
	var a netip.Addr
	if o.trustInternal && first(ctx, policy.KeyTransport) == policy.TransportHTTP {
		a = parseHost(first(ctx, policy.KeyClientAddr))
	}
	if !a.IsValid() {
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			a = addrOf(p.Addr)
		}
	}
	if !a.IsValid() || !o.isTrusted(a) {
		return a
	}
	if f := o.forwarded(ctx); f.IsValid() {
		return f
	}
	return a
}

func (o *options) isTrusted(a netip.Addr) bool {
	for _, p := range o.trusted {
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
// (a trusted proxy): the call then counts against that proxy, not against
// a name the client made up. It returns the zero Addr if no entry parses.
func (o *options) forwarded(ctx context.Context) netip.Addr {
	var vals []string
	parse := parseHost
	if o.header == HeaderForwarded {
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
			if !o.isTrusted(a) {
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
	for _, pair := range strings.Split(element, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return parseHost(v)
	}
	return netip.Addr{}
}

// parseHost parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port", drops any
// zone and unmaps IPv4-mapped IPv6 addresses. Anything else gives the zero Addr.
func parseHost(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
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
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return parseHost(addr.String())
}

// first returns the first value of an incoming metadata key (lower case),
// without copying the metadata as metadata.FromIncomingContext does.
func first(ctx context.Context, key string) string {
	if v := policy.IncomingValue(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}
