package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bank-backend test"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServerCredentials(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                  string
		listen, cert, key, ca string
		wantProto             string // "" means an error is wanted
	}{
		{name: "plaintext on 127.0.0.1", listen: "127.0.0.1:9091", wantProto: "insecure"},
		{name: "plaintext on localhost", listen: "localhost:9091", wantProto: "insecure"},
		{name: "plaintext on ::1", listen: "[::1]:9091", wantProto: "insecure"},
		{name: "plaintext on all interfaces", listen: ":9091"},
		{name: "plaintext on 0.0.0.0", listen: "0.0.0.0:9091"},
		{name: "plaintext on a LAN address", listen: "10.0.0.7:9091"},
		{name: "bad listen address", listen: "nonsense"},
		{name: "client CA without a certificate", listen: "127.0.0.1:9091", ca: cert},
		{name: "TLS", listen: "0.0.0.0:9091", cert: cert, key: key, wantProto: "tls"},
		{name: "mTLS", listen: "0.0.0.0:9091", cert: cert, key: key, ca: cert, wantProto: "tls"},
		{name: "missing key", listen: "0.0.0.0:9091", cert: cert, key: filepath.Join(dir, "nope.pem")},
		{name: "client CA not PEM", listen: "0.0.0.0:9091", cert: cert, key: key, ca: notPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := serverCredentials(tt.listen, tt.cert, tt.key, tt.ca)
			if tt.wantProto == "" {
				if err == nil {
					t.Errorf("serverCredentials(%q, %q, %q, %q) = %v, want an error", tt.listen, tt.cert, tt.key, tt.ca, creds.Info())
				}
				return
			}
			if err != nil || creds.Info().SecurityProtocol != tt.wantProto {
				t.Errorf("serverCredentials(%q, %q, %q, %q) = %v, %v, want %s", tt.listen, tt.cert, tt.key, tt.ca, creds, err, tt.wantProto)
			}
		})
	}
}
