package gateway_test

// The harness runs a whole gateway in-process, configured like `portcullis
// demo` (cmd/portcullis/demo.go and personas.go): the dev PKI, an ES256
// token issuer with a JWKS file, the demo bundle plus a few extra API keys,
// the operator grants for the ledger service, and the bank backend over
// loopback plaintext. Clients talk to it over real TLS on 127.0.0.1.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/examples/bank"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

const (
	issuerName   = "https://issuer.portcullis.test"
	audience     = "portcullis"
	tellerSPIFFE = "spiffe://portcullis.local/user/teller"
	ledgerSPIFFE = "spiffe://portcullis.local/svc/ledger"

	aliceChecking = "accounts/alice-checking"
	aliceSavings  = "accounts/alice-savings"

	// The only two refusal messages a client may ever see.
	msgUnauthenticated = "missing or invalid credentials"
	msgDenied          = "permission denied"

	callTimeout = 5 * time.Second
)

// Client certificate names understood by harness.grpcClient and harness.httpClient.
const (
	certNone      = ""
	certTeller    = "teller"
	certLedger    = "ledger"
	certUntrusted = "untrusted"
)

// gatewayConfig mirrors demoConfig, with ephemeral ports, a plaintext
// loopback backend and a fast JWKS refresh. %[1]s is the backend address.
const gatewayConfig = `listeners:
  grpc:
    address: 127.0.0.1:0
    tls: {cert_file: server.pem, key_file: server-key.pem, client_ca_file: ca.pem, client_auth: optional}
  http:
    address: 127.0.0.1:0
    tls: {cert_file: server.pem, key_file: server-key.pem, client_ca_file: ca.pem, client_auth: optional}
  admin:
    address: 127.0.0.1:0
    plaintext: true
routes:
  - service: examples.bank.v1.BankService
    backend: %[1]s
    plaintext: true
    timeout: 10s
identity:
  jwt: true
  api_keys: true
  mtls: true
  issuers:
    - issuer: ` + issuerName + `
      audiences: [` + audience + `]
      algorithms: [ES256]
      jwks_file: jwks.json
      refresh_interval: 200ms
      max_lifetime: 24h
bundle: bundle.yaml
grants:
  - subject: ` + ledgerSPIFFE + `
    permissions: [bank.ledger.reconcile, bank.transactions.import]
shutdown_timeout: 5s
log: {level: error, format: text}
`

// bundleText is demoBundle with four more keys of the same principal:
// one usable only from 10.0.0.0/8, one disabled, one expired and one whose
// calls must be signed.
const bundleText = `version: test-1
author: gateway tests
message: demo personas
roles:
  teller:
    permissions: [bank.accounts.read, bank.accounts.list, bank.transfers.create, bank.transactions.read, bank.transactions.watch, bank.quotes.read, bank.payees.create]
  closer:
    permissions: [bank.accounts.close]
  auditor:
    permissions: [bank.audit.read, bank.accounts.read]
  customer:
    permissions: [bank.accounts.read, bank.transactions.read]
bindings:
  - roles: [auditor]
    users: [audrey]
  - roles: [customer]
    groups: [customers]
  - roles: [teller]
    spiffe: [` + tellerSPIFFE + `]
api_keys:
  - {id: %s, hash: "sha256:%x", principal: reporting-bot, kind: service, roles: [auditor], cidrs: [127.0.0.0/8, "::1/128"]}
  - {id: %s, hash: "sha256:%x", principal: reporting-bot, kind: service, roles: [auditor], cidrs: [10.0.0.0/8]}
  - {id: %s, hash: "sha256:%x", principal: reporting-bot, kind: service, roles: [auditor], disabled: true}
  - {id: %s, hash: "sha256:%x", principal: reporting-bot, kind: service, roles: [auditor], expires: "2020-01-01T00:00:00Z"}
  - {id: %s, hash: "sha256:%x", principal: reporting-bot, kind: service, roles: [auditor], require_signature: true}
`

// apiKeys are the full keys (pcs_<id>_<secret>) of the bundle's entries.
type apiKeys struct {
	reporting, remote, disabled, expired string
	// signedOnly is reporting-bot's key whose calls must all be signed.
	signedOnly string
}

// harness is one running gateway and its clients.
type harness struct {
	t     *testing.T
	files *devcerts.Files
	iss   *authntest.Issuer
	jwks  string // path of jwks.json
	gw    *gateway.Gateway
	keys  apiKeys
	dir   string // the temp dir holding bundle.yaml, certificates, config

	grpcAddr, httpAddr string

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	https map[string]*http.Client
}

// newHarness starts the bank backend and a gateway in front of it; both
// stop when the test ends.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, "")
}

// newHarnessWith is newHarness with more top-level configuration (extra is
// YAML appended to the gateway config; relative paths resolve in the temp
// dir).
func newHarnessWith(t *testing.T, extra string) *harness {
	t.Helper()
	return newHarnessBundle(t, extra, "")
}

// newHarnessBundle is newHarnessWith with more top-level bundle YAML
// (extraBundle is appended to bundleText).
func newHarnessBundle(t *testing.T, extra, extraBundle string) *harness {
	t.Helper()
	return newHarnessEdit(t, nil, extra, extraBundle)
}

// newHarnessEdit is newHarnessBundle with edit applied to the gateway
// config text (nil: none), for changes inside its blocks.
func newHarnessEdit(t *testing.T, edit func(string) string, extra, extraBundle string) *harness {
	t.Helper()
	dir := t.TempDir()
	files, err := devcerts.Generate(dir, devcerts.WithClients("user/teller", "svc/ledger"))
	if err != nil {
		t.Fatalf("devcerts.Generate(%q) = %v, want nil", dir, err)
	}
	h := &harness{t: t, files: files, iss: authntest.NewIssuer(issuerName, "ES256"), jwks: filepath.Join(dir, "jwks.json"),
		conns: map[string]*grpc.ClientConn{}, https: map[string]*http.Client{}, dir: dir}
	if err := h.iss.WriteJWKS(h.jwks); err != nil {
		t.Fatalf("WriteJWKS(%q) = %v, want nil", h.jwks, err)
	}
	var entries []any
	for _, k := range []*string{&h.keys.reporting, &h.keys.remote, &h.keys.disabled, &h.keys.expired, &h.keys.signedOnly} {
		key, id, hash, err := policy.NewAPIKey()
		if err != nil {
			t.Fatalf("policy.NewAPIKey() = %v, want nil", err)
		}
		*k = key
		entries = append(entries, id, hash)
	}
	writeFile(t, filepath.Join(dir, "bundle.yaml"), fmt.Sprintf(bundleText, entries...)+extraBundle)

	backend := startBank(t)
	path := filepath.Join(dir, "gateway.yaml")
	text := fmt.Sprintf(gatewayConfig, backend) + extra
	if edit != nil {
		text = edit(text)
	}
	writeFile(t, path, text)
	cfg, err := config.Parse(path, []byte(text))
	if err != nil {
		t.Fatalf("config.Parse(%q) = %v, want nil", path, err)
	}
	h.gw, err = gateway.New(cfg, gateway.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("gateway.New() = %v, want nil", err)
	}
	if err := h.gw.Start(); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.gw.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown() = %v, want nil", err)
		}
	})
	h.grpcAddr, h.httpAddr = h.gw.Addr("grpc").String(), h.gw.Addr("http").String()
	t.Cleanup(h.closeClients) // runs before Shutdown
	return h
}

// startBank serves the bank backend in plaintext on 127.0.0.1 and returns
// its address. It books a transaction on every account every 50ms, so that
// a watch receives a first message quickly.
func startBank(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen(127.0.0.1:0) = %v, want nil", err)
	}
	b := bank.New(bank.WithTickTransactions(50 * time.Millisecond))
	srv := bank.NewGRPCServer(b)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		_ = b.Close() // ends watches, which GracefulStop would wait for
		srv.Stop()
	})
	return lis.Addr().String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("os.WriteFile(%q) = %v, want nil", path, err)
	}
}

// pair returns the certificate files of a client certificate name.
func (h *harness) pair(cert string) devcerts.KeyPair {
	switch cert {
	case certTeller:
		return h.files.Clients["user/teller"]
	case certLedger:
		return h.files.Clients["svc/ledger"]
	case certUntrusted:
		return h.files.UntrustedClient
	}
	h.t.Fatalf("pair(%q): unknown certificate", cert)
	return devcerts.KeyPair{}
}

// leaf parses a client certificate.
func (h *harness) leaf(cert string) *x509.Certificate {
	h.t.Helper()
	data, err := os.ReadFile(h.pair(cert).Cert)
	if err != nil {
		h.t.Fatalf("os.ReadFile(%q) = %v, want nil", h.pair(cert).Cert, err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		h.t.Fatalf("pem.Decode(%q) = nil, want a certificate", h.pair(cert).Cert)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		h.t.Fatalf("x509.ParseCertificate(%q) = %v, want nil", h.pair(cert).Cert, err)
	}
	return c
}

// tlsConfig trusts the dev CA and presents the named client certificate.
func (h *harness) tlsConfig(cert string) *tls.Config {
	h.t.Helper()
	data, err := os.ReadFile(h.files.CA.Cert)
	if err != nil {
		h.t.Fatalf("os.ReadFile(%q) = %v, want nil", h.files.CA.Cert, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		h.t.Fatalf("AppendCertsFromPEM(%q) = false, want true", h.files.CA.Cert)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != certNone {
		p := h.pair(cert)
		kp, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			h.t.Fatalf("tls.LoadX509KeyPair(%q) = %v, want nil", p.Cert, err)
		}
		// Always present it: with Certificates, crypto/tls silently
		// withholds a certificate whose issuer the server did not list
		// (the untrusted one), and the server would never see it.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	return cfg
}

// grpcClient returns a gRPC client of the gateway presenting the named client
// certificate; connections are shared within the test.
func (h *harness) grpcClient(cert string) bankv1.BankServiceClient {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	cc, ok := h.conns[cert]
	if !ok {
		var err error
		cc, err = grpc.NewClient(h.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(h.tlsConfig(cert))))
		if err != nil {
			h.t.Fatalf("grpc.NewClient(%q) = %v, want nil", h.grpcAddr, err)
		}
		h.conns[cert] = cc
	}
	return bankv1.NewBankServiceClient(cc)
}

// httpClient returns an HTTPS client of the REST front presenting the named
// client certificate.
func (h *harness) httpClient(cert string) *http.Client {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.https[cert]
	if !ok {
		c = &http.Client{Transport: &http.Transport{TLSClientConfig: h.tlsConfig(cert), ForceAttemptHTTP2: true}}
		h.https[cert] = c
	}
	return c
}

func (h *harness) closeClients() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cc := range h.conns {
		_ = cc.Close()
	}
	for _, c := range h.https {
		c.CloseIdleConnections()
	}
}

// token signs a token for sub with the usual claims (one hour) plus extra.
func (h *harness) token(sub string, extra map[string]any) string {
	c := h.iss.Claims(sub, audience, time.Hour)
	maps.Copy(c, extra)
	return h.iss.Sign(c)
}

// cred is what a caller presents: a bearer token, an API key, raw
// metadata/header pairs, and a client certificate name.
type cred struct {
	bearer string
	apiKey string
	pairs  []string // extra key, value pairs, sent as metadata or headers
	cert   string
}

func (c cred) allPairs() []string {
	var out []string
	if c.bearer != "" {
		out = append(out, "authorization", "Bearer "+c.bearer)
	}
	if c.apiKey != "" {
		out = append(out, "x-api-key", c.apiKey)
	}
	return append(out, c.pairs...)
}

// outgoing returns ctx carrying c's metadata.
func (c cred) outgoing(ctx context.Context) context.Context {
	if p := c.allPairs(); len(p) > 0 {
		return metadata.AppendToOutgoingContext(ctx, p...)
	}
	return ctx
}

// restCall is one REST request; stream marks a streaming response, whose
// body is not read when the status is 200.
type restCall struct {
	method, path, body string
	stream             bool
}

// rest sends rc with c's credentials and returns the HTTP status and, for
// non-200 answers, the error message of the JSON body.
func (h *harness) rest(ctx context.Context, c cred, rc restCall) (int, string, error) {
	var body io.Reader
	if rc.body != "" {
		body = strings.NewReader(rc.body)
	}
	req, err := http.NewRequestWithContext(ctx, rc.method, "https://"+h.httpAddr+rc.path, body)
	if err != nil {
		return 0, "", err
	}
	if rc.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	p := c.allPairs()
	for i := 0; i+1 < len(p); i += 2 {
		req.Header.Add(p[i], p[i+1])
	}
	resp, err := h.httpClient(c.cert).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if !rc.stream {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		}
		return resp.StatusCode, "", nil
	}
	// A google.rpc.Status; streaming methods wrap it as {"error": …}.
	var st struct {
		Message string `json:"message"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, &st); err != nil {
		return resp.StatusCode, "", fmt.Errorf("error body %q: %w", data, err)
	}
	if st.Error != nil {
		return resp.StatusCode, st.Error.Message, nil
	}
	return resp.StatusCode, st.Message, nil
}
