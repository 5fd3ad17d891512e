package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/policy"
)

// policyExplain prints the decision the gateway would make for one call,
// with its full trace, by running the call through the real chain stages
// without forwarding it.
func policyExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "gateway configuration (required)")
	method := fs.String("method", "", "full method name, e.g. /examples.bank.v1.BankService/GetAccount (required)")
	token := fs.String("token", "", "bearer JWT")
	apiKey := fs.String("api-key", "", "API key: the whole key (pcs_<id>_<secret>), or its id alone (the secret is then not checked)")
	certFile := fs.String("cert", "", "client certificate (PEM) presented over mTLS; verified against listeners.grpc.tls.client_ca_file")
	request := fs.String("request", "", "request message as JSON, for conditions and resource fields")
	addr := fs.String("client-ip", "127.0.0.1", "client address")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" || *method == "" {
		fmt.Fprintln(stderr, "usage: portcullis policy explain --config FILE --method /pkg.Svc/M [--token JWT | --api-key KEY|ID] [--cert PEM] [--request JSON]")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	gw, err := gateway.New(cfg, gateway.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *token != "" && *apiKey != "" {
		fmt.Fprintln(stderr, "portcullis policy explain: give --token or --api-key, not both")
		return 2
	}
	md := metadata.MD{}
	if *token != "" {
		md.Set("authorization", "Bearer "+strings.TrimSpace(*token))
	}
	// A whole key is verified like a call's; an id alone (the bundle holds
	// only hashes, so an operator rarely has the secret) is explained
	// without its secret.
	keyID := ""
	if k := strings.TrimSpace(*apiKey); k != "" {
		if _, _, err := policy.ParseAPIKey(k); err == nil {
			md.Set("x-api-key", k)
		} else if strings.HasPrefix(k, "pcs_") {
			fmt.Fprintln(stderr, "portcullis policy explain: --api-key: malformed key (want pcs_<id>_<secret>, or the id alone)")
			return 2
		} else {
			keyID = k
		}
	}
	p := &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(*addr), Port: 50000}}
	if *certFile != "" {
		info, err := tlsInfo(*certFile, cfg)
		if err != nil {
			fmt.Fprintln(stderr, "portcullis policy explain:", err)
			return 1
		}
		p.AuthInfo = info
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ex *gateway.Explanation
	if keyID != "" {
		ex, err = gw.ExplainAPIKey(ctx, *method, keyID, *request, p)
	} else {
		ex, err = gw.ExplainCall(ctx, *method, md, *request, p)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *asJSON {
		b, _ := json.MarshalIndent(ex, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	if keyID != "" {
		fmt.Fprintf(stdout, "note:        API key %s explained by its id: its secret was not checked\n", keyID)
	}
	printExplanation(stdout, ex)
	return 0
}

func printExplanation(w io.Writer, ex *gateway.Explanation) {
	m, r := ex.Method, ex.Record
	fmt.Fprintf(w, "method:      %s\n", m.FullMethod)
	if m.Public {
		fmt.Fprintf(w, "requires:    nothing (public: %s)\n", m.PublicReason)
	} else {
		fmt.Fprintf(w, "requires:    %s of [%s]", m.Match, strings.Join(m.Permissions, " "))
		if len(m.Scopes) > 0 {
			fmt.Fprintf(w, ", scopes [%s]", strings.Join(m.Scopes, " "))
		}
		fmt.Fprintf(w, "; credentials %s; sensitivity %s\n", m.Credentials, m.Sensitivity)
	}
	if m.Condition != "" {
		fmt.Fprintf(w, "condition:   %s\n", m.Condition)
	}
	if m.RequireSignature {
		fmt.Fprintf(w, "signature:   required (a request signature by a key bound to the caller; explain does not check it)\n")
	}
	if p := r.Principal; p != nil {
		fmt.Fprintf(w, "principal:   %s (%s, via %s, credential %s)\n", p.ID, p.Kind, p.Credential, p.CredentialID)
		if p.HasScopes {
			fmt.Fprintf(w, "scopes:      [%s]\n", strings.Join(p.Scopes, " "))
		}
		if p.MTLS {
			fmt.Fprintf(w, "mtls:        %s bound=%v\n", p.SPIFFEID, p.Bound)
		}
	} else {
		fmt.Fprintln(w, "principal:   none")
	}
	if r.AuthnFailure != "" {
		fmt.Fprintf(w, "authn:       refused: %s\n", r.AuthnFailure)
	}
	if d := r.Decision; d != nil {
		fmt.Fprintf(w, "roles:       [%s]\n", strings.Join(d.Roles, " "))
		fmt.Fprintf(w, "effective:   [%s]\n", strings.Join(d.Effective, " "))
		if d.Condition != "" {
			fmt.Fprintf(w, "condition:   %s\n", d.Condition)
		}
		verdict := "ALLOW"
		if !d.Allowed {
			verdict = "DENY (failed: " + d.FailedRequirement + ")"
		}
		fmt.Fprintf(w, "decision:    %s: %s [bundle %s]\n", verdict, d.Reason, d.BundleVersion)
	}
	fmt.Fprintf(w, "status:      %s\n", ex.Status)
}

// tlsInfo verifies certFile against the gRPC listener's client CA, as the
// TLS handshake would, and returns the resulting connection facts.
func tlsInfo(certFile string, cfg *config.Config) (credentials.TLSInfo, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return credentials.TLSInfo{}, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return credentials.TLSInfo{}, fmt.Errorf("%s: not a PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return credentials.TLSInfo{}, err
	}
	l := cfg.Listeners.GRPC
	if l.TLS == nil || l.TLS.ClientCAFile == "" {
		return credentials.TLSInfo{}, errors.New("listeners.grpc.tls.client_ca_file is not set: the gateway accepts no client certificates")
	}
	caPEM, err := os.ReadFile(l.TLS.ClientCAFile)
	if err != nil {
		return credentials.TLSInfo{}, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	chains, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return credentials.TLSInfo{}, fmt.Errorf("%s: not trusted by the gateway: %w", certFile, err)
	}
	state := tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: chains}
	return credentials.TLSInfo{State: state, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
}
