package tlsconfig_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/devcerts"
	"github.com/portcullis/portcullis/gateway/tlsconfig"
)

var quiet = tlsconfig.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func serverConfig(t *testing.T, s tlsconfig.Server, opts ...tlsconfig.Option) *tls.Config {
	t.Helper()
	cfg, err := tlsconfig.ServerConfig(s, append([]tlsconfig.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatalf("ServerConfig(%+v) = %v, want nil", s, err)
	}
	return cfg
}

func clientConfig(t *testing.T, c tlsconfig.Client, opts ...tlsconfig.Option) *tls.Config {
	t.Helper()
	cfg, err := tlsconfig.ClientConfig(c, append([]tlsconfig.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatalf("ClientConfig(%+v) = %v, want nil", c, err)
	}
	return cfg
}

func TestHandshake(t *testing.T) {
	files := pki(t)
	addr, results := serve(t, serverConfig(t, tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key}))
	tests := []struct {
		name    string
		client  tlsconfig.Client
		wantErr string
	}{
		{"dns name", tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "localhost"}, ""},
		{"ip name", tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "127.0.0.1"}, ""},
		{"wrong name", tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "example.com"}, "not example.com"},
		{"no name for ip", tlsconfig.Client{CAFile: files.CA.Cert}, "no server name"},
		{"untrusted root", tlsconfig.Client{CAFile: files.UntrustedCA.Cert, ServerName: "localhost"}, "unknown authority"},
		{"system roots", tlsconfig.Client{ServerName: "localhost"}, "x509: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, err := dial(t, addr, clientConfig(t, tt.client))
			_ = next(t, results)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("dial(%+v) = %v, want error containing %q", tt.client, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial(%+v) = %v, want nil", tt.client, err)
			}
			if state.NegotiatedProtocol != "h2" {
				t.Errorf("NegotiatedProtocol = %q, want h2", state.NegotiatedProtocol)
			}
			if state.Version != tls.VersionTLS13 {
				t.Errorf("Version = %x, want TLS 1.3", state.Version)
			}
		})
	}
}

func TestNextProtos(t *testing.T) {
	files := pki(t)
	cfg := serverConfig(t, tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key}, tlsconfig.WithNextProtos("h2", "http/1.1"))
	addr, results := serve(t, cfg)
	client := clientConfig(t, tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "localhost"}, tlsconfig.WithNextProtos("http/1.1"))
	state, err := dial(t, addr, client)
	_ = next(t, results)
	if err != nil || state.NegotiatedProtocol != "http/1.1" {
		t.Errorf("dial() = %q, %v, want http/1.1, nil", state.NegotiatedProtocol, err)
	}
}

func TestClientAuth(t *testing.T) {
	files := pki(t)
	teller := files.Clients["user/teller"]
	tests := []struct {
		mode   string
		client devcerts.KeyPair
		want   bool
	}{
		{"require", devcerts.KeyPair{}, false},
		{"require", files.UntrustedClient, false},
		{"require", files.Server, false}, // trusted CA, but not a client certificate
		{"require", teller, true},
		{"optional", devcerts.KeyPair{}, true},
		{"optional", teller, true},
		{"optional", files.UntrustedClient, false},
		{"none", teller, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.client.Cert, func(t *testing.T) {
			s := tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key, ClientAuth: tt.mode}
			if tt.mode != "none" {
				s.ClientCAFile = files.CA.Cert
			}
			addr, results := serve(t, serverConfig(t, s))
			c := tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "localhost", CertFile: tt.client.Cert, KeyFile: tt.client.Key}
			_, err := dial(t, addr, clientConfig(t, c))
			h := next(t, results)
			if got := err == nil && h.err == nil; got != tt.want {
				t.Fatalf("handshake(%s, %s) accepted = %v (client %v, server %v), want %v", tt.mode, tt.client.Cert, got, err, h.err, tt.want)
			}
			if tt.want && tt.mode != "none" && tt.client == teller {
				if n := len(h.state.PeerCertificates); n == 0 || h.state.PeerCertificates[0].URIs[0].String() != devcerts.SPIFFEID("user/teller") {
					t.Errorf("server PeerCertificates = %d certs, want the teller's", n)
				}
			}
		})
	}
}

func TestVersionsAndCiphers(t *testing.T) {
	files := pki(t)
	tests := []struct {
		name       string
		minVersion string
		client     *tls.Config
		want       bool
	}{
		{"tls 1.1 refused", "", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"tls 1.2 accepted", "", &tls.Config{MaxVersion: tls.VersionTLS12}, true},
		{"tls 1.2 cbc refused", "", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"tls 1.2 refused by 1.3 minimum", "1.3", &tls.Config{MaxVersion: tls.VersionTLS12}, false},
		{"tls 1.3 accepted by 1.3 minimum", "1.3", &tls.Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key, MinVersion: tt.minVersion}
			addr, results := serve(t, serverConfig(t, s))
			tt.client.InsecureSkipVerify = true // this test is about versions, not names
			state, err := dial(t, addr, tt.client)
			h := next(t, results)
			if got := err == nil && h.err == nil; got != tt.want {
				t.Fatalf("handshake(%s) accepted = %v (client %v, server %v), want %v", tt.name, got, err, h.err, tt.want)
			}
			if tt.want && state.Version == tls.VersionTLS12 && !isAEAD(state.CipherSuite) {
				t.Errorf("CipherSuite = %s, want an ECDHE AEAD suite", tls.CipherSuiteName(state.CipherSuite))
			}
		})
	}
}

func isAEAD(id uint16) bool {
	for _, s := range tlsconfig.CipherSuites() {
		if s == id {
			return true
		}
	}
	return false
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"server ok", tlsconfig.Server{CertFile: "c", KeyFile: "k"}.Validate(), ""},
		{"server mtls ok", tlsconfig.Server{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "require"}.Validate(), ""},
		{"server no key", tlsconfig.Server{CertFile: "c"}.Validate(), "tlsconfig: cert_file and key_file are required"},
		{"server bad auth", tlsconfig.Server{CertFile: "c", KeyFile: "k", ClientAuth: "maybe"}.Validate(), `tlsconfig: client_auth "maybe": want none, optional or require`},
		{"server auth without ca", tlsconfig.Server{CertFile: "c", KeyFile: "k", ClientAuth: "optional"}.Validate(), "tlsconfig: client_auth optional needs client_ca_file"},
		{"server ca without auth", tlsconfig.Server{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}.Validate(), "tlsconfig: client_ca_file is set but client_auth is none"},
		{"server tls 1.1", tlsconfig.Server{CertFile: "c", KeyFile: "k", MinVersion: "1.1"}.Validate(), `tlsconfig: min_version "1.1": want "1.2" or "1.3"`},
		{"client ok", tlsconfig.Client{}.Validate(), ""},
		{"client cert without key", tlsconfig.Client{CertFile: "c"}.Validate(), "tlsconfig: cert_file and key_file go together"},
		{"client bad version", tlsconfig.Client{MinVersion: "TLS1.3"}.Validate(), `tlsconfig: min_version "TLS1.3": want "1.2" or "1.3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Validate(%s) = %q, want %q", tt.name, got, tt.wantErr)
			}
		})
	}
}

func TestNewServerLoadErrors(t *testing.T) {
	files := pki(t)
	tests := []struct {
		name string
		s    tlsconfig.Server
	}{
		{"missing cert", tlsconfig.Server{CertFile: files.Dir + "/nope.pem", KeyFile: files.Server.Key}},
		{"mismatched key", tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Backend.Key}},
		{"key as CA", tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key, ClientAuth: "require", ClientCAFile: files.CA.Key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tlsconfig.NewServer(tt.s, quiet); err == nil || !strings.HasPrefix(err.Error(), "tlsconfig: ") {
				t.Errorf("NewServer(%s) = %v, want a tlsconfig error", tt.name, err)
			}
		})
	}
}
