package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
)

// httpsClient returns the client for an HTTPS endpoint the gateway fetches
// from (JWKS, bundle): the configured CAs (else the system roots) and, when
// set, the client certificate, whose key is the secret named by keyRef
// (refreshed values are used from the next handshake on). A nil c gives a
// plain client with the system roots.
func (g *Gateway) httpsClient(c *config.HTTPSClient, keyRef string) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c != nil && c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c != nil && c.CertFile != "" {
		certPEM, err := os.ReadFile(c.CertFile)
		if err != nil {
			return nil, err
		}
		key := g.secrets.get(keyRef)
		cc := &clientCert{certPEM: certPEM, key: key.Value}
		if _, err := cc.get(); err != nil { // fail at start-up, not at the first fetch
			return nil, fmt.Errorf("%s (%s): %w", keyRef, key.Ref(), err)
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cc.get() }
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}, nil
}

// clientCert is a client certificate whose key is a refreshed secret: the
// pair is parsed again when the key's value changes.
type clientCert struct {
	certPEM []byte
	key     func() string

	mu      sync.Mutex
	lastKey string
	cert    *tls.Certificate
}

func (c *clientCert) get() (*tls.Certificate, error) {
	k := c.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && k == c.lastKey {
		return c.cert, nil
	}
	pair, err := tls.X509KeyPair(c.certPEM, []byte(k))
	if err != nil {
		// Never include the key material: X509KeyPair's errors do not.
		return nil, errors.New("client certificate and key do not load as a pair: " + err.Error())
	}
	c.cert, c.lastKey = &pair, k
	return c.cert, nil
}
