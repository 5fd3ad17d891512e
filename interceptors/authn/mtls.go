package authn

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/netip"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/policy"
)

// conn is what the call's connection says about the client.
type conn struct {
	ctx     context.Context
	trusted bool // internal metadata keys are trusted
	peer    *peer.Peer
	addr    func(context.Context) netip.Addr // the client address (options.clientAddr)

	// A verified client certificate, from the TLS state or (trusted) from
	// the REST front's internal keys.
	cert       bool
	certSHA256 string
	spiffeID   string
	commonName string
	leaf       *x509.Certificate // nil for the REST front's certificates
}

// connection gathers the certificate facts of the call. Only a certificate
// that the TLS layer verified (non-empty VerifiedChains) counts.
func connection(ctx context.Context, trusted bool, addr func(context.Context) netip.Addr) conn {
	c := conn{ctx: ctx, trusted: trusted, addr: addr}
	c.peer, _ = peer.FromContext(ctx)
	if trusted {
		if sum, ok := single(ctx, policy.KeyClientCertSHA256); ok && sum != "" {
			c.cert, c.certSHA256 = true, sum
			c.spiffeID, _ = single(ctx, policy.KeyClientSPIFFE)
			if subj, ok := single(ctx, policy.KeyClientSubject); ok {
				c.commonName = commonName(subj)
			}
			return c
		}
	}
	if c.peer == nil {
		return c
	}
	info, ok := c.peer.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.PeerCertificates) == 0 {
		return c
	}
	leaf := info.State.PeerCertificates[0]
	c.cert = true
	c.certSHA256 = thumbprint(leaf)
	c.spiffeID = spiffeID(leaf)
	c.commonName = leaf.Subject.CommonName
	c.leaf = leaf
	return c
}

// single returns the value of an incoming metadata key that has exactly
// one.
func single(ctx context.Context, key string) (string, bool) {
	v := policy.IncomingValue(ctx, key)
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

func thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// spiffeID returns the first spiffe:// URI SAN, the same one the REST front
// forwards, so both transports agree on the identity.
func spiffeID(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// commonName extracts the first CN of a subject in the form
// pkix.Name.String() writes it (RFC 2253 order, most specific first, with
// ',', '+', '"', '\\', '<', '>', ';' and edge spaces or '#' escaped by a
// backslash): the same value as x509.Certificate.Subject.CommonName.
func commonName(dn string) string {
	for len(dn) > 0 {
		// Find the end of this attribute: the first unescaped ',' or '+'.
		end := len(dn)
		for i := 0; i < len(dn); i++ {
			if dn[i] == '\\' {
				i++
				continue
			}
			if dn[i] == ',' || dn[i] == '+' {
				end = i
				break
			}
		}
		if v, ok := strings.CutPrefix(dn[:end], "CN="); ok {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			return b.String()
		}
		if end == len(dn) {
			break
		}
		dn = dn[end+1:]
	}
	return ""
}

// certificate authenticates a call by its client certificate alone.
func (a *Authenticator) certificate(c *conn) (*policy.Principal, string) {
	if !a.cfg.MTLS {
		return nil, "mtls: client certificates are not enabled as a credential on this listener"
	}
	id := c.spiffeID
	if id == "" {
		id = c.commonName
	}
	if id == "" {
		return nil, "mtls: client certificate has neither a SPIFFE ID nor a subject common name"
	}
	p := &policy.Principal{
		ID:           id,
		Kind:         a.certKind(c.spiffeID),
		Credential:   policy.CredentialMTLS,
		CredentialID: c.certSHA256,
	}
	if c.leaf != nil {
		// The REST front does not forward the issuer; it stays "" there.
		p.Issuer = c.leaf.Issuer.String()
	}
	c.stamp(p)
	return p, ""
}

// certKind classifies a certificate principal by its SPIFFE ID.
func (a *Authenticator) certKind(id string) string {
	if rest, ok := strings.CutPrefix(id, "spiffe://"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 && strings.HasPrefix(rest[i:], "/svc/") {
			return policy.KindService
		}
		for _, p := range a.cfg.MTLSServicePrefixes {
			if strings.HasPrefix(id, p) {
				return policy.KindService
			}
		}
	}
	return a.cfg.MTLSDefaultKind
}

// stamp records the connection's certificate facts on p, which must be a
// principal of this call only (not shared).
func (c *conn) stamp(p *policy.Principal) {
	if c.cert {
		p.MTLS, p.CertSHA256, p.SPIFFEID = true, c.certSHA256, c.spiffeID
	}
}

// clientAddr is the client's IP address (options.clientAddr). It is
// invalid when the call has none (an in-memory connection, say).
func (c *conn) clientAddr() netip.Addr { return c.addr(c.ctx) }
