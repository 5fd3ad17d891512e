package tlsconfig

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// Server holds the TLS settings of a listener. File paths are used as given
// (resolve relative paths before).
type Server struct {
	// CertFile and KeyFile are the PEM certificate chain (leaf first) and
	// private key the listener presents. Both are required.
	CertFile, KeyFile string
	// ClientCAFile is a PEM bundle of authorities that client certificates
	// must chain to. Required when ClientAuth is "optional" or "require",
	// forbidden when it is "none".
	ClientCAFile string
	// ClientAuth is "none" (default, no client certificate requested),
	// "optional" (verified if given: tls.VerifyClientCertIfGiven) or
	// "require" (tls.RequireAndVerifyClientCert).
	ClientAuth string
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string
}

// Client holds the TLS settings of an upstream connection.
type Client struct {
	// CAFile is a PEM bundle of authorities the server certificate must
	// chain to; empty means the system roots. The bundle is reloaded when it
	// changes.
	CAFile string
	// CertFile and KeyFile are the client certificate and key for mutual
	// TLS; both or neither.
	CertFile, KeyFile string
	// ServerName is the name verified against the server certificate and
	// sent as SNI; empty means the host being dialled. With CAFile set and an
	// IP address dialled, set it (to the IP or a DNS name in the certificate).
	ServerName string
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string
}

// cipherSuites are the TLS 1.2 suites offered: forward-secret ECDHE key
// exchange with AEAD encryption only. TLS 1.3 suites are not configurable.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// CipherSuites returns the TLS 1.2 cipher suites every configuration allows.
func CipherSuites() []uint16 {
	return append([]uint16(nil), cipherSuites...)
}

// ParseVersion maps a MinVersion setting to its tls constant: "" and "1.2"
// are tls.VersionTLS12, "1.3" is tls.VersionTLS13; anything else is an error.
func ParseVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tlsconfig: min_version %q: want \"1.2\" or \"1.3\"", s)
}

// ParseClientAuth maps a ClientAuth setting to its tls constant: "" and
// "none" are tls.NoClientCert, "optional" is tls.VerifyClientCertIfGiven,
// "require" is tls.RequireAndVerifyClientCert; anything else is an error.
func ParseClientAuth(s string) (tls.ClientAuthType, error) {
	switch s {
	case "", "none":
		return tls.NoClientCert, nil
	case "optional":
		return tls.VerifyClientCertIfGiven, nil
	case "require":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("tlsconfig: client_auth %q: want none, optional or require", s)
}

// Validate checks the settings without touching the file system.
func (s Server) Validate() error {
	if s.CertFile == "" || s.KeyFile == "" {
		return errors.New("tlsconfig: cert_file and key_file are required")
	}
	if _, err := ParseVersion(s.MinVersion); err != nil {
		return err
	}
	auth, err := ParseClientAuth(s.ClientAuth)
	if err != nil {
		return err
	}
	switch {
	case auth == tls.NoClientCert && s.ClientCAFile != "":
		return errors.New("tlsconfig: client_ca_file is set but client_auth is none")
	case auth != tls.NoClientCert && s.ClientCAFile == "":
		return fmt.Errorf("tlsconfig: client_auth %s needs client_ca_file", s.ClientAuth)
	}
	return nil
}

// Validate checks the settings without touching the file system.
func (c Client) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tlsconfig: cert_file and key_file go together")
	}
	_, err := ParseVersion(c.MinVersion)
	return err
}

// ServerConfig returns a listener configuration that reloads its files on
// handshakes. It is NewServer(s, opts...).TLSConfig() for callers that do not
// need the Reloader.
func ServerConfig(s Server, opts ...Option) (*tls.Config, error) {
	r, err := NewServer(s, opts...)
	if err != nil {
		return nil, err
	}
	return r.TLSConfig(), nil
}

// ClientConfig returns an upstream configuration that reloads its files on
// handshakes. It is NewClient(c, opts...).TLSConfig().
func ClientConfig(c Client, opts ...Option) (*tls.Config, error) {
	r, err := NewClient(c, opts...)
	if err != nil {
		return nil, err
	}
	return r.TLSConfig(), nil
}
