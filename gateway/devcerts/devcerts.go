package devcerts

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TrustDomain is the SPIFFE trust domain of every identity devcerts issues.
const TrustDomain = "portcullis.local"

// GatewayID is the SPIFFE ID in the gateway's upstream client certificate.
const GatewayID = "spiffe://" + TrustDomain + "/gateway"

// UntrustedClientID is the SPIFFE ID the untrusted client certificate claims.
// It looks legitimate on purpose: only its issuer gives it away.
const UntrustedClientID = "spiffe://" + TrustDomain + "/user/mallory"

// File names inside the directory passed to Generate. Persona certificates
// are named client-<name>.pem and client-<name>-key.pem, see WithClients.
const (
	CAFile                 = "ca.pem"
	CAKeyFile              = "ca-key.pem"
	ServerFile             = "server.pem"
	ServerKeyFile          = "server-key.pem"
	BackendFile            = "backend.pem"
	BackendKeyFile         = "backend-key.pem"
	GatewayClientFile      = "gateway-client.pem"
	GatewayClientKeyFile   = "gateway-client-key.pem"
	UntrustedCAFile        = "untrusted-ca.pem"
	UntrustedCAKeyFile     = "untrusted-ca-key.pem"
	UntrustedClientFile    = "untrusted-client.pem"
	UntrustedClientKeyFile = "untrusted-client-key.pem"
)

// KeyPair holds the paths of a PEM certificate and its PEM (PKCS #8) key.
type KeyPair struct {
	Cert string
	Key  string
}

// Files lists the paths Generate wrote or kept. All paths are Dir joined with
// the file name constants of this package.
type Files struct {
	// Dir is the directory passed to Generate.
	Dir string
	// CA is the development authority (ca.pem, ca-key.pem) that signs every
	// certificate below except the untrusted ones.
	CA KeyPair
	// Server is the gateway's listener certificate (server.pem,
	// server-key.pem) for localhost, 127.0.0.1 and ::1.
	Server KeyPair
	// Backend is the demo backend's server certificate (backend.pem,
	// backend-key.pem), same names as Server.
	Backend KeyPair
	// GatewayClient is the certificate the gateway presents to backends
	// (gateway-client.pem, gateway-client-key.pem), SPIFFE ID GatewayID.
	GatewayClient KeyPair
	// Clients maps each name given to WithClients (such as "user/teller") to
	// its certificate (client-teller.pem, client-teller-key.pem).
	Clients map[string]KeyPair
	// UntrustedCA is a second authority (untrusted-ca.pem,
	// untrusted-ca-key.pem) that nothing trusts.
	UntrustedCA KeyPair
	// UntrustedClient is signed by UntrustedCA (untrusted-client.pem,
	// untrusted-client-key.pem) and claims UntrustedClientID.
	UntrustedClient KeyPair
}

// SPIFFEID returns the SPIFFE ID of a persona name given to WithClients:
// SPIFFEID("user/teller") is "spiffe://portcullis.local/user/teller".
func SPIFFEID(name string) string {
	return "spiffe://" + TrustDomain + "/" + name
}

// Generate creates the development PKI in dir, creating dir with mode 0700
// if needed. It is idempotent: files that exist, parse, match their keys,
// chain to their authority, carry the expected names and have at least a
// third of their validity left are kept (unless WithForce); everything else
// is (re)generated. Replacing an authority replaces everything it signed.
func Generate(dir string, opts ...Option) (*Files, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devcerts: create %q: %w", dir, err)
	}
	g := &generator{opts: o, now: time.Now()}
	files := layout(dir, o.clients)

	ca, err := g.authority(files.CA, "Portcullis Development CA")
	if err != nil {
		return nil, err
	}
	serverNames := g.serverNames()
	leaves := []leafSpec{
		{pair: files.Server, cn: "portcullis gateway", names: serverNames, usage: x509.ExtKeyUsageServerAuth},
		{pair: files.Backend, cn: "portcullis dev backend", names: serverNames, usage: x509.ExtKeyUsageServerAuth},
		{pair: files.GatewayClient, cn: "portcullis gateway", names: sans{uris: []string{GatewayID}}, usage: x509.ExtKeyUsageClientAuth},
	}
	for _, name := range o.clients {
		leaves = append(leaves, leafSpec{pair: files.Clients[name], cn: name, names: sans{uris: []string{SPIFFEID(name)}}, usage: x509.ExtKeyUsageClientAuth})
	}
	for _, l := range leaves {
		if err := g.leaf(ca, l); err != nil {
			return nil, err
		}
	}

	untrusted, err := g.authority(files.UntrustedCA, "Untrusted Development CA")
	if err != nil {
		return nil, err
	}
	mallory := leafSpec{pair: files.UntrustedClient, cn: "mallory", names: sans{uris: []string{UntrustedClientID}}, usage: x509.ExtKeyUsageClientAuth}
	if err := g.leaf(untrusted, mallory); err != nil {
		return nil, err
	}
	return files, nil
}

func layout(dir string, clients []string) *Files {
	pair := func(cert, key string) KeyPair {
		return KeyPair{Cert: filepath.Join(dir, cert), Key: filepath.Join(dir, key)}
	}
	f := &Files{
		Dir:             dir,
		CA:              pair(CAFile, CAKeyFile),
		Server:          pair(ServerFile, ServerKeyFile),
		Backend:         pair(BackendFile, BackendKeyFile),
		GatewayClient:   pair(GatewayClientFile, GatewayClientKeyFile),
		Clients:         make(map[string]KeyPair, len(clients)),
		UntrustedCA:     pair(UntrustedCAFile, UntrustedCAKeyFile),
		UntrustedClient: pair(UntrustedClientFile, UntrustedClientKeyFile),
	}
	for _, name := range clients {
		base := lastSegment(name)
		f.Clients[name] = pair("client-"+base+".pem", "client-"+base+"-key.pem")
	}
	return f
}

// serverNames are the SANs of both server certificates.
func (g *generator) serverNames() sans {
	s := sans{dns: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	for _, h := range g.opts.hosts {
		if ip := net.ParseIP(h); ip != nil {
			s.ips = append(s.ips, ip)
		} else {
			s.dns = append(s.dns, h)
		}
	}
	return s
}

// checkSPIFFEPath accepts slash-separated segments of letters, digits, '.',
// '-' and '_' (the SPIFFE path alphabet), excluding "." and "..".
func checkSPIFFEPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty name")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid path segment %q", seg)
		}
		for _, r := range seg {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
			if !ok {
				return fmt.Errorf("invalid character %q in SPIFFE path", r)
			}
		}
	}
	return nil
}

func lastSegment(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}
