package devcerts

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// clockSkew backdates NotBefore so that a peer whose clock is slightly behind
// still accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

type generator struct {
	opts options
	now  time.Time
}

// authority is a loaded or freshly created CA.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	// fresh reports that the CA was just created, so nothing it "signed"
	// before can still be valid.
	fresh bool
}

type sans struct {
	dns  []string
	ips  []net.IP
	uris []string
}

type leafSpec struct {
	pair  KeyPair
	cn    string
	names sans
	usage x509.ExtKeyUsage
}

// authority keeps the CA at pair if it is valid, or creates a new one.
func (g *generator) authority(pair KeyPair, cn string) (*authority, error) {
	if !g.opts.force {
		if ca, ok := g.loadAuthority(pair); ok {
			return ca, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devcerts: generate key for %s: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Portcullis (development only)"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	cert, err := g.sign(tmpl, key.Public(), nil, key)
	if err != nil {
		return nil, fmt.Errorf("devcerts: create %s: %w", cn, err)
	}
	if err := writePair(pair, cert, key); err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key, fresh: true}, nil
}

// leaf keeps the certificate at spec.pair if it is valid, or issues a new one.
func (g *generator) leaf(ca *authority, spec leafSpec) error {
	if !g.opts.force && !ca.fresh && g.leafValid(ca, spec) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("devcerts: generate key for %s: %w", spec.pair.Cert, err)
	}
	uris, err := parseURIs(spec.names.uris)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.cn, Organization: []string{"Portcullis (development only)"}},
		DNSNames:    spec.names.dns,
		IPAddresses: spec.names.ips,
		URIs:        uris,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{spec.usage},
	}
	cert, err := g.sign(tmpl, key.Public(), ca.cert, ca.key)
	if err != nil {
		return fmt.Errorf("devcerts: issue %s: %w", spec.pair.Cert, err)
	}
	return writePair(spec.pair, cert, key)
}

// sign fills serial and validity into tmpl and signs it with signer; a nil
// parent makes the certificate self-signed. A leaf never outlives its CA.
func (g *generator) sign(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = g.now.Add(-clockSkew)
	tmpl.NotAfter = g.now.Add(g.opts.validity)
	if parent == nil {
		parent = tmpl
	} else if tmpl.NotAfter.After(parent.NotAfter) {
		tmpl.NotAfter = parent.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// fresh reports whether cert is inside its validity window with at least a
// third of the configured validity left.
func (g *generator) fresh(cert *x509.Certificate) bool {
	return !g.now.Before(cert.NotBefore) && cert.NotAfter.Sub(g.now) >= g.opts.validity/3
}

func (g *generator) loadAuthority(pair KeyPair) (*authority, bool) {
	cert, key, err := readPair(pair)
	if err != nil || !cert.IsCA || !g.fresh(cert) || cert.CheckSignatureFrom(cert) != nil {
		return nil, false
	}
	return &authority{cert: cert, key: key}, true
}

func (g *generator) leafValid(ca *authority, spec leafSpec) bool {
	cert, _, err := readPair(spec.pair)
	if err != nil || !g.fresh(cert) {
		return false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: g.now, KeyUsages: []x509.ExtKeyUsage{spec.usage}})
	if err != nil {
		return false
	}
	uris := make([]string, len(cert.URIs))
	for i, u := range cert.URIs {
		uris[i] = u.String()
	}
	return slices.Equal(cert.DNSNames, spec.names.dns) &&
		slices.EqualFunc(cert.IPAddresses, spec.names.ips, net.IP.Equal) &&
		slices.Equal(uris, spec.names.uris)
}

// readPair loads a certificate and its key and checks that they belong
// together and that the key file is private to its owner.
func readPair(pair KeyPair) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(pair.Cert)
	if err != nil {
		return nil, nil, err
	}
	st, err := os.Stat(pair.Key)
	if err != nil {
		return nil, nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("devcerts: %s is accessible by group or others", pair.Key)
	}
	keyPEM, err := os.ReadFile(pair.Key)
	if err != nil {
		return nil, nil, err
	}
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, errors.New("devcerts: want exactly one CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	block, _ = pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, nil, errors.New("devcerts: want a PRIVATE KEY block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("devcerts: key does not match certificate")
	}
	return cert, key, nil
}

// writePair writes the key (0600) before the certificate (0644), each
// atomically, so a reader that sees a new certificate also finds its key.
func writePair(pair KeyPair, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("devcerts: marshal key: %w", err)
	}
	if err := writeFile(pair.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFile(pair.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// writeFile replaces path atomically: write a temporary file in the same
// directory, set its mode, flush it and rename it over path.
func writeFile(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".devcerts-*")
	if err != nil {
		return fmt.Errorf("devcerts: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("devcerts: write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func parseURIs(raw []string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(raw))
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("devcerts: SPIFFE ID %q: %w", r, err)
		}
		out = append(out, u)
	}
	return out, nil
}
