package devcerts_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/devcerts"
)

func loadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func pool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(loadCert(t, path))
	return p
}

func generate(t *testing.T, opts ...devcerts.Option) *devcerts.Files {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	files, err := devcerts.Generate(dir, opts...)
	if err != nil {
		t.Fatalf("Generate(%q) = %v, want nil", dir, err)
	}
	return files
}

func TestGenerateVerifies(t *testing.T) {
	files := generate(t)
	roots := pool(t, files.CA.Cert)
	untrusted := pool(t, files.UntrustedCA.Cert)
	tests := []struct {
		name    string
		pair    devcerts.KeyPair
		roots   *x509.CertPool
		usage   x509.ExtKeyUsage
		dnsName string
		uri     string
		wantErr bool
	}{
		{"server localhost", files.Server, roots, x509.ExtKeyUsageServerAuth, "localhost", "", false},
		{"server 127.0.0.1", files.Server, roots, x509.ExtKeyUsageServerAuth, "127.0.0.1", "", false},
		{"server ::1", files.Server, roots, x509.ExtKeyUsageServerAuth, "::1", "", false},
		{"server other host", files.Server, roots, x509.ExtKeyUsageServerAuth, "example.com", "", true},
		{"server as client", files.Server, roots, x509.ExtKeyUsageClientAuth, "", "", true},
		{"backend", files.Backend, roots, x509.ExtKeyUsageServerAuth, "localhost", "", false},
		{"gateway client", files.GatewayClient, roots, x509.ExtKeyUsageClientAuth, "", devcerts.GatewayID, false},
		{"gateway client as server", files.GatewayClient, roots, x509.ExtKeyUsageServerAuth, "", "", true},
		{"teller", files.Clients["user/teller"], roots, x509.ExtKeyUsageClientAuth, "", "spiffe://portcullis.local/user/teller", false},
		{"ledger", files.Clients["svc/ledger"], roots, x509.ExtKeyUsageClientAuth, "", "spiffe://portcullis.local/svc/ledger", false},
		{"untrusted client", files.UntrustedClient, roots, x509.ExtKeyUsageClientAuth, "", devcerts.UntrustedClientID, true},
		{"untrusted client own CA", files.UntrustedClient, untrusted, x509.ExtKeyUsageClientAuth, "", devcerts.UntrustedClientID, false},
		{"server under untrusted CA", files.Server, untrusted, x509.ExtKeyUsageServerAuth, "localhost", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tls.LoadX509KeyPair(tt.pair.Cert, tt.pair.Key); err != nil {
				t.Fatalf("tls.LoadX509KeyPair(%q) = %v, want nil", tt.pair.Cert, err)
			}
			cert := loadCert(t, tt.pair.Cert)
			_, err := cert.Verify(x509.VerifyOptions{Roots: tt.roots, DNSName: tt.dnsName, KeyUsages: []x509.ExtKeyUsage{tt.usage}})
			if (err != nil) != tt.wantErr {
				t.Errorf("Verify(%s) = %v, want error %v", tt.name, err, tt.wantErr)
			}
			if tt.uri != "" && (len(cert.URIs) != 1 || cert.URIs[0].String() != tt.uri) {
				t.Errorf("URIs(%s) = %v, want [%s]", tt.name, cert.URIs, tt.uri)
			}
			if got := cert.NotAfter.Sub(cert.NotBefore); got > 31*24*time.Hour {
				t.Errorf("validity(%s) = %v, want at most 31 days", tt.name, got)
			}
		})
	}
}

func TestGeneratePermissions(t *testing.T) {
	files := generate(t, devcerts.WithClients("user/teller", "svc/ledger", "user/auditor"))
	st, err := os.Stat(files.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("Stat(%q).Mode() = %v, want 0700", files.Dir, got)
	}
	pairs := []devcerts.KeyPair{files.CA, files.Server, files.Backend, files.GatewayClient, files.UntrustedCA, files.UntrustedClient}
	for _, p := range files.Clients {
		pairs = append(pairs, p)
	}
	if len(files.Clients) != 3 {
		t.Errorf("len(Clients) = %d, want 3", len(files.Clients))
	}
	for _, p := range pairs {
		for path, want := range map[string]os.FileMode{p.Key: 0o600, p.Cert: 0o644} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != want {
				t.Errorf("Stat(%q).Mode() = %v, want %v", path, got, want)
			}
		}
	}
	entries, err := os.ReadDir(files.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), 2*len(pairs); got != want {
		t.Errorf("ReadDir(%q) has %d entries, want %d (no temporary files left)", files.Dir, got, want)
	}
}

func TestGenerateFileNames(t *testing.T) {
	files := generate(t)
	want := map[string]string{
		files.CA.Cert:                     "ca.pem",
		files.CA.Key:                      "ca-key.pem",
		files.Server.Cert:                 "server.pem",
		files.Backend.Key:                 "backend-key.pem",
		files.GatewayClient.Cert:          "gateway-client.pem",
		files.GatewayClient.Key:           "gateway-client-key.pem",
		files.Clients["user/teller"].Cert: "client-teller.pem",
		files.Clients["svc/ledger"].Key:   "client-ledger-key.pem",
		files.UntrustedClient.Cert:        "untrusted-client.pem",
		files.UntrustedCA.Key:             "untrusted-ca-key.pem",
	}
	for path, name := range want {
		if got := filepath.Base(path); got != name {
			t.Errorf("Base(%q) = %q, want %q", path, got, name)
		}
	}
}

func TestGenerateIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	files, err := devcerts.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	serial := func(p string) string { return loadCert(t, p).SerialNumber.String() }
	caSerial, serverSerial, tellerSerial := serial(files.CA.Cert), serial(files.Server.Cert), serial(files.Clients["user/teller"].Cert)

	// A second run keeps everything.
	if _, err := devcerts.Generate(dir); err != nil {
		t.Fatal(err)
	}
	if got := serial(files.Server.Cert); got != serverSerial {
		t.Errorf("Generate again: server serial = %s, want %s (kept)", got, serverSerial)
	}

	// A missing leaf is reissued by the existing CA; the rest is kept.
	if err := os.Remove(files.Server.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := devcerts.Generate(dir); err != nil {
		t.Fatal(err)
	}
	if got := serial(files.Server.Cert); got == serverSerial {
		t.Errorf("Generate after removing key: server serial = %s, want a new one", got)
	}
	if got := serial(files.CA.Cert); got != caSerial {
		t.Errorf("Generate after removing key: CA serial = %s, want %s (kept)", got, caSerial)
	}
	if got := serial(files.Clients["user/teller"].Cert); got != tellerSerial {
		t.Errorf("Generate after removing key: teller serial = %s, want %s (kept)", got, tellerSerial)
	}

	// A key readable by others is not trusted and is replaced.
	if err := os.Chmod(files.Clients["user/teller"].Key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := devcerts.Generate(dir); err != nil {
		t.Fatal(err)
	}
	if got := serial(files.Clients["user/teller"].Cert); got == tellerSerial {
		t.Errorf("Generate after chmod 0644: teller serial = %s, want a new one", got)
	}

	// WithForce replaces the CA and therefore everything.
	if _, err := devcerts.Generate(dir, devcerts.WithForce()); err != nil {
		t.Fatal(err)
	}
	if got := serial(files.CA.Cert); got == caSerial {
		t.Errorf("Generate(WithForce): CA serial = %s, want a new one", got)
	}
	if _, err := loadCert(t, files.Server.Cert).Verify(x509.VerifyOptions{Roots: pool(t, files.CA.Cert)}); err != nil {
		t.Errorf("Verify(server) after WithForce = %v, want nil", err)
	}
}

func TestGenerateRenewsShortLived(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	files, err := devcerts.Generate(dir, devcerts.WithValidity(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	before := loadCert(t, files.CA.Cert).SerialNumber
	if _, err := devcerts.Generate(dir); err != nil {
		t.Fatal(err)
	}
	if after := loadCert(t, files.CA.Cert).SerialNumber; after.Cmp(before) == 0 {
		t.Errorf("Generate after 2h certs: CA serial = %s, want a new one (less than a third of 30 days left)", after)
	}
}

func TestGenerateNewClientAndHost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	files, err := devcerts.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	caSerial := loadCert(t, files.CA.Cert).SerialNumber
	files, err = devcerts.Generate(dir, devcerts.WithClients("user/auditor"), devcerts.WithHosts("gateway.internal", "10.0.0.7"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loadCert(t, files.CA.Cert).SerialNumber; got.Cmp(caSerial) != 0 {
		t.Errorf("CA serial = %s, want %s (kept)", got, caSerial)
	}
	server := loadCert(t, files.Server.Cert)
	for _, name := range []string{"gateway.internal", "10.0.0.7", "localhost"} {
		if err := server.VerifyHostname(name); err != nil {
			t.Errorf("VerifyHostname(%q) = %v, want nil", name, err)
		}
	}
	if _, ok := files.Clients["user/auditor"]; !ok {
		t.Errorf("Clients = %v, want user/auditor", files.Clients)
	}
}

func TestGenerateOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  devcerts.Option
	}{
		{"empty client", devcerts.WithClients("")},
		{"dot segment", devcerts.WithClients("user/../x")},
		{"bad char", devcerts.WithClients("user/tel ler")},
		{"duplicate file", devcerts.WithClients("user/ledger", "svc/ledger")},
		{"short validity", devcerts.WithValidity(time.Minute)},
		{"empty host", devcerts.WithHosts("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := devcerts.Generate(dir, tt.opt); err == nil {
				t.Errorf("Generate(%s) = nil, want error", tt.name)
			}
		})
	}
}
