package config

// HTTPSClient is how the gateway connects to an HTTPS endpoint it fetches
// from (a JWKS URL, a bundle URL): the CAs it trusts and, for endpoints that
// demand mTLS, its client certificate. The private key is a secret
// reference (env:, file: or vault:), never a literal.
type HTTPSClient struct {
	// CAFile (ca_file) is a PEM bundle of the CAs to trust. Default: the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile (cert_file) is the client certificate chain (PEM).
	CertFile string `yaml:"cert_file"`
	// Key (key) is a reference to the client certificate's PEM private key,
	// e.g. file:/run/secrets/jwks-client-key.pem or
	// vault:secret/portcullis/jwks#key. Required with cert_file.
	Key string `yaml:"key"`
}

// Config keys of the client certificate keys (as SecretRefs names them).
const (
	KeyJWKSClientKey   = "identity.jwks_client.key"
	KeyBundleClientKey = "bundle_client.key"
)

func (v *validator) httpsClient(path string, c *HTTPSClient) {
	if c == nil {
		return
	}
	v.file(path+".ca_file", c.CAFile, false)
	v.file(path+".cert_file", c.CertFile, false)
	switch {
	case c.CertFile != "" && c.Key == "":
		v.add(path+".key", "required when cert_file is set (a reference: env:NAME, file:PATH or vault:PATH#FIELD)")
	case c.CertFile == "" && c.Key != "":
		v.add(path+".cert_file", "required when key is set")
	}
}

func (c *Config) jwksClient() *HTTPSClient {
	if c.Identity == nil {
		return nil
	}
	return c.Identity.JWKSClient
}
