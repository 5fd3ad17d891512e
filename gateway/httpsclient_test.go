package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
)

// TestJWKSOverMTLS: a jwks_url behind mTLS is fetched with the
// identity.jwks_client certificate, whose key is a file: reference; a
// client without it cannot fetch, and a key that is not the certificate's
// fails start-up naming the setting, never the key.
func TestJWKSOverMTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := devcerts.Generate(dir, devcerts.WithClients("svc/gateway", "svc/other"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files.CA.Cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	iss := authntest.NewIssuer(issuerName, "ES256")
	var fetches atomic.Int64
	jwks := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(iss.JWKS())
	}))
	serverPair, err := tls.LoadX509KeyPair(files.Server.Cert, files.Server.Key)
	if err != nil {
		t.Fatal(err)
	}
	jwks.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	jwks.StartTLS()
	t.Cleanup(jwks.Close)
	backend := startBank(t)

	gw := files.Clients["svc/gateway"]
	other := files.Clients["svc/other"]
	configFor := func(client string) string {
		return fmt.Sprintf(`listeners:
  grpc:
    address: 127.0.0.1:0
    tls: {cert_file: %[1]s, key_file: %[2]s}
routes:
  - service: examples.bank.v1.BankService
    backend: %[3]s
    plaintext: true
identity:
  jwt: true
  issuers:
    - issuer: %[4]s
      audiences: [%[5]s]
      algorithms: [ES256]
      jwks_url: %[6]s
%[7]sbundle: bundle.yaml
log: {level: error}
`, files.Server.Cert, files.Server.Key, backend, issuerName, audience, jwks.URL, client)
	}
	writeFile(t, filepath.Join(dir, "bundle.yaml"), "version: t1\nroles:\n  teller:\n    permissions: [bank.accounts.read]\n")
	start := func(t *testing.T, text string) (*gateway.Gateway, error) {
		t.Helper()
		path := filepath.Join(dir, "gateway.yaml")
		writeFile(t, path, text)
		cfg, err := config.Parse(path, []byte(text))
		if err != nil {
			t.Fatalf("config.Parse() = %v", err)
		}
		g, err := gateway.New(cfg, gateway.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return nil, err
		}
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = g.Shutdown(ctx)
		})
		return g, nil
	}
	call := func(t *testing.T, g *gateway.Gateway) error {
		t.Helper()
		cc, err := grpc.NewClient(g.Addr("grpc").String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		claims := iss.Claims("teller-1", audience, time.Hour)
		claims["roles"] = []string{"teller"}
		ctx := cred{bearer: iss.Sign(claims)}.outgoing(timeout(t, callTimeout))
		_, err = bankv1.NewBankServiceClient(cc).GetAccount(ctx, &bankv1.GetAccountRequest{Name: aliceChecking})
		return err
	}

	t.Run("with the client certificate", func(t *testing.T) {
		g, err := start(t, configFor(fmt.Sprintf("  jwks_client: {ca_file: %s, cert_file: %s, key: \"file:%s\"}\n", files.CA.Cert, gw.Cert, gw.Key)))
		if err != nil {
			t.Fatalf("gateway.New() = %v", err)
		}
		if err := call(t, g); err != nil {
			t.Fatalf("GetAccount with a token from the mTLS JWKS = %v, want OK", err)
		}
		if fetches.Load() == 0 {
			t.Fatal("the JWKS endpoint was never fetched")
		}
	})
	t.Run("without it", func(t *testing.T) {
		before := fetches.Load()
		g, err := start(t, configFor(fmt.Sprintf("  jwks_client: {ca_file: %s}\n", files.CA.Cert)))
		if err == nil {
			if err := call(t, g); err == nil {
				t.Fatal("GetAccount = OK without the JWKS client certificate, want the keys unreachable")
			}
		}
		if fetches.Load() != before {
			t.Errorf("the JWKS endpoint served a client without a certificate")
		}
	})
	t.Run("a key that is not the certificate's", func(t *testing.T) {
		keyPEM, _ := os.ReadFile(other.Key)
		_, err := start(t, configFor(fmt.Sprintf("  jwks_client: {ca_file: %s, cert_file: %s, key: \"file:%s\"}\n", files.CA.Cert, gw.Cert, other.Key)))
		if err == nil || !strings.Contains(err.Error(), "identity.jwks_client.key (file:"+other.Key+")") || strings.Contains(err.Error(), string(keyPEM[40:80])) {
			t.Fatalf("gateway.New() = %v, want an error naming identity.jwks_client.key and its reference, without the key", err)
		}
	})
}
