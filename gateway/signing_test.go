package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/client/sign"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// signingKeys are the request-signing keys of the signing tests, by keyid.
type signingKeys map[string]any // keyid → private key

// signingBundle returns the signing_keys block binding each key to a
// principal, and the private keys. teller-k1 (ed25519) and teller-p256
// sign for teller-1, audrey-k1 for audrey, bot-k1 for reporting-bot;
// teller-off is disabled and teller-old expired.
func signingBundle(t *testing.T) (string, signingKeys) {
	t.Helper()
	keys := signingKeys{}
	var b strings.Builder
	b.WriteString("signing_keys:\n")
	add := func(id, principal, extra string, priv any, pub any) {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		block := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		fmt.Fprintf(&b, "  - id: %s\n    principal: %s\n%s    public_key: |\n      %s\n", id, principal, extra,
			strings.ReplaceAll(block, "\n", "\n      "))
		keys[id] = priv
	}
	for _, k := range []struct{ id, principal, extra string }{
		{"teller-k1", "teller-1", ""},
		{"audrey-k1", "audrey", ""},
		{"bot-k1", "reporting-bot", ""},
		{"teller-off", "teller-1", "    disabled: true\n"},
		{"teller-old", "teller-1", "    expires: 2020-01-01T00:00:00Z\n"},
	} {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		add(k.id, k.principal, k.extra, priv, pub)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	add("teller-p256", "teller-1", "", ec, &ec.PublicKey)
	return b.String(), keys
}

func newSigningHarness(t *testing.T) (*harness, signingKeys) {
	t.Helper()
	text, keys := signingBundle(t)
	return newHarnessBundle(t, "", text), keys
}

func (k signingKeys) signer(t *testing.T, id string, opts ...sign.Option) *sign.Signer {
	t.Helper()
	s, err := sign.NewHTTPSigner(id, k[id], opts...)
	if err != nil {
		t.Fatalf("NewHTTPSigner(%s) = %v", id, err)
	}
	return s
}

// refusedSigners sign teller-1's calls in ways the gateway must refuse.
func (k signingKeys) refusedSigners(t *testing.T) []struct {
	name string
	s    *sign.Signer
} {
	skew := func(d time.Duration) sign.Option {
		return sign.WithClock(func() time.Time { return time.Now().Add(d) })
	}
	return []struct {
		name string
		s    *sign.Signer
	}{
		{"another principal's key", k.signer(t, "audrey-k1")},
		{"disabled key", k.signer(t, "teller-off")},
		{"expired key", k.signer(t, "teller-old")},
		{"stale", k.signer(t, "teller-k1", skew(-10*time.Minute))},
		{"future-dated", k.signer(t, "teller-k1", skew(10*time.Minute))},
	}
}

// signedClient is a gRPC client of the gateway (no client certificate)
// that signs every call with s.
func (h *harness) signedClient(s *sign.Signer) bankv1.BankServiceClient {
	h.t.Helper()
	cc, err := grpc.NewClient(h.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(h.tlsConfig(certNone))),
		grpc.WithUnaryInterceptor(sign.UnaryClientInterceptor(s)), grpc.WithStreamInterceptor(sign.StreamClientInterceptor(s)))
	if err != nil {
		h.t.Fatalf("grpc.NewClient: %v", err)
	}
	h.t.Cleanup(func() { _ = cc.Close() })
	return bankv1.NewBankServiceClient(cc)
}

var payee = &bankv1.AddPayeeRequest{Account: aliceChecking, DisplayName: "Landlord", Iban: "FR7630006000011234567890189"}

// wantSignatureRefused asserts the fixed refusal of a bad signature.
func wantSignatureRefused(t *testing.T, err error) {
	t.Helper()
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != "invalid request signature" {
		t.Fatalf("err = %v, want Unauthenticated %q", err, "invalid request signature")
	}
}

func TestSignedGRPC(t *testing.T) {
	h, keys := newSigningHarness(t)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	ctx := func() context.Context { return teller.outgoing(timeout(t, callTimeout)) }

	t.Run("unsigned refused", func(t *testing.T) {
		_, err := h.grpcClient(certNone).AddPayee(ctx(), payee)
		wantSignatureRefused(t, err)
	})
	for _, id := range []string{"teller-k1", "teller-p256"} {
		t.Run("signed by the caller's key "+id, func(t *testing.T) {
			resp, err := h.signedClient(keys.signer(t, id)).AddPayee(ctx(), payee)
			if err != nil || !strings.HasPrefix(resp.GetPayee().GetName(), aliceChecking+"/payees/") {
				t.Fatalf("AddPayee = %v, %v, want a payee", resp, err)
			}
		})
	}
	t.Run("signed but invalid", func(t *testing.T) {
		bad := &bankv1.AddPayeeRequest{Account: aliceChecking, DisplayName: "Landlord", Iban: "fr76 3000"}
		_, err := h.signedClient(keys.signer(t, "teller-k1")).AddPayee(ctx(), bad)
		wantViolation(t, err, "iban")
	})
	for _, tt := range keys.refusedSigners(t) {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.signedClient(tt.s).AddPayee(ctx(), payee)
			wantSignatureRefused(t, err)
		})
	}
	t.Run("an unknown key signing a method that needs none is ignored", func(t *testing.T) {
		// The gRPC profile is checked only where a signature is required.
		unknown, err := sign.NewHTTPSigner("nobody", ed25519.NewKeyFromSeed(make([]byte, 32)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.signedClient(unknown).GetAccount(ctx(), &bankv1.GetAccountRequest{Name: aliceChecking}); err != nil {
			t.Fatalf("GetAccount = %v, want OK", err)
		}
	})
}

// capture runs the signing interceptor of s over req and returns the
// metadata it would send, without sending anything.
func capture(t *testing.T, h *harness, s *sign.Signer, method string, req any) metadata.MD {
	t.Helper()
	cc, err := grpc.NewClient(h.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(h.tlsConfig(certNone))))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var md metadata.MD
	err = sign.UnaryClientInterceptor(s)(context.Background(), method, req, nil, cc,
		func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			md, _ = metadata.FromOutgoingContext(ctx)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestSignedGRPCReplayAndTampering(t *testing.T) {
	h, keys := newSigningHarness(t)
	bearer := "Bearer " + h.token("teller-1", roles("teller"))
	md := capture(t, h, keys.signer(t, "teller-k1"), bankv1.BankService_AddPayee_FullMethodName, payee)
	send := func(md metadata.MD, req *bankv1.AddPayeeRequest) error {
		ctx := metadata.NewOutgoingContext(timeout(t, callTimeout), md.Copy())
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", bearer)
		_, err := h.grpcClient(certNone).AddPayee(ctx, req)
		return err
	}
	t.Run("another message under the signature", func(t *testing.T) {
		other := &bankv1.AddPayeeRequest{Account: aliceChecking, DisplayName: "Mallory", Iban: "GB33BUKB20201555555555"}
		wantSignatureRefused(t, send(md, other))
	})
	// The tampered call was refused before its nonce was used up.
	t.Run("first use", func(t *testing.T) {
		if err := send(md, payee); err != nil {
			t.Fatalf("AddPayee = %v, want OK", err)
		}
	})
	t.Run("replay", func(t *testing.T) { wantSignatureRefused(t, send(md, payee)) })
	t.Run("another method under the signature", func(t *testing.T) {
		// reporting-bot's signed-only key: every call must be signed. A
		// signature made for AddPayee does not sign GetAccount (@path).
		key := cred{apiKey: h.keys.signedOnly}
		get := &bankv1.GetAccountRequest{Name: aliceChecking}
		forGet := capture(t, h, keys.signer(t, "bot-k1"), bankv1.BankService_GetAccount_FullMethodName, get)
		forPayee := capture(t, h, keys.signer(t, "bot-k1"), bankv1.BankService_AddPayee_FullMethodName, get)
		call := func(md metadata.MD) error {
			ctx := key.outgoing(metadata.NewOutgoingContext(timeout(t, callTimeout), md))
			_, err := h.grpcClient(certNone).GetAccount(ctx, get)
			return err
		}
		wantSignatureRefused(t, call(forPayee))
		if err := call(forGet); err != nil {
			t.Fatalf("GetAccount under its own signature = %v, want OK", err)
		}
	})
}

func TestSignedAPIKey(t *testing.T) {
	h, keys := newSigningHarness(t)
	key := cred{apiKey: h.keys.signedOnly}
	get := &bankv1.GetAccountRequest{Name: aliceChecking}
	_, err := h.grpcClient(certNone).GetAccount(key.outgoing(timeout(t, callTimeout)), get)
	wantSignatureRefused(t, err)
	if _, err := h.signedClient(keys.signer(t, "bot-k1")).GetAccount(key.outgoing(timeout(t, callTimeout)), get); err != nil {
		t.Fatalf("signed GetAccount with the key = %v, want OK", err)
	}
	_, err = h.signedClient(keys.signer(t, "teller-k1")).GetAccount(key.outgoing(timeout(t, callTimeout)), get)
	wantSignatureRefused(t, err)
	// The same principal's ordinary key needs no signature.
	if _, err := h.grpcClient(certNone).GetAccount(cred{apiKey: h.keys.reporting}.outgoing(timeout(t, callTimeout)), get); err != nil {
		t.Fatalf("unsigned GetAccount with an ordinary key = %v, want OK", err)
	}
	// REST: the same rule.
	code, _ := h.signedREST(t, nil, key, "GET", "/v1/"+aliceChecking, "")
	if code != http.StatusUnauthorized {
		t.Errorf("unsigned REST GetAccount with the key = %d, want 401", code)
	}
	if code, body := h.signedREST(t, keys.signer(t, "bot-k1"), key, "GET", "/v1/"+aliceChecking, ""); code != http.StatusOK {
		t.Errorf("signed REST GetAccount with the key = %d %s, want 200", code, body)
	}
}

// restRequest builds a REST request with c's credentials.
func (h *harness) restRequest(t *testing.T, c cred, method, path, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(timeout(t, callTimeout), method, "https://"+h.httpAddr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	p := c.allPairs()
	for i := 0; i+1 < len(p); i += 2 {
		req.Header.Add(p[i], p[i+1])
	}
	return req
}

func (h *harness) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := h.httpClient(certNone).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signedREST sends a REST request signed by s (unsigned when s is nil).
func (h *harness) signedREST(t *testing.T, s *sign.Signer, c cred, method, path, body string) (int, string) {
	t.Helper()
	req := h.restRequest(t, c, method, path, body)
	if s != nil {
		if err := s.Sign(req); err != nil {
			t.Fatalf("Sign: %v", err)
		}
	}
	return h.do(t, req)
}

func TestSignedREST(t *testing.T) {
	h, keys := newSigningHarness(t)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	path, body := addPayeeREST.path, addPayeeREST.body

	if code, msg := h.signedREST(t, nil, teller, "POST", path, body); code != http.StatusUnauthorized || !strings.Contains(msg, "invalid request signature") {
		t.Errorf("unsigned = %d %s, want 401 invalid request signature", code, msg)
	}
	for _, id := range []string{"teller-k1", "teller-p256"} {
		if code, msg := h.signedREST(t, keys.signer(t, id), teller, "POST", path, body); code != http.StatusOK || !strings.Contains(msg, "/payees/") {
			t.Errorf("signed by %s = %d %s, want 200 and a payee", id, code, msg)
		}
	}
	for _, tt := range keys.refusedSigners(t) {
		t.Run(tt.name, func(t *testing.T) {
			if code, msg := h.signedREST(t, tt.s, teller, "POST", path, body); code != http.StatusUnauthorized {
				t.Errorf("= %d %s, want 401", code, msg)
			}
		})
	}

	// One signed request, sent as signed, tampered and replayed.
	signed := h.restRequest(t, teller, "POST", path, body)
	if err := keys.signer(t, "teller-k1").Sign(signed); err != nil {
		t.Fatal(err)
	}
	resend := func(newPath, newBody string, edit func(http.Header)) (int, string) {
		req := h.restRequest(t, cred{}, "POST", newPath, newBody)
		req.Header = signed.Header.Clone()
		if edit != nil {
			edit(req.Header)
		}
		return h.do(t, req)
	}
	t.Run("body changed", func(t *testing.T) {
		evil := strings.Replace(body, "Landlord", "Mallory!", 1)
		if code, msg := resend(path, evil, nil); code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401", code, msg)
		}
	})
	t.Run("path changed", func(t *testing.T) {
		if code, msg := resend("/v1/"+aliceSavings+"/payees", body, nil); code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401", code, msg)
		}
	})
	t.Run("components reordered", func(t *testing.T) {
		code, msg := resend(path, body, func(hd http.Header) {
			in := hd.Get("Signature-Input")
			hd.Set("Signature-Input", strings.Replace(in, `("@method" "@authority"`, `("@authority" "@method"`, 1))
		})
		if code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401", code, msg)
		}
	})
	t.Run("spoofed internal signature key", func(t *testing.T) {
		req := h.restRequest(t, teller, "POST", path, body)
		req.Header.Set("X-Portcullis-Signature-Key", "teller-k1")
		req.Header.Set("Grpc-Metadata-X-Portcullis-Signature-Key", "teller-k1")
		if code, msg := h.do(t, req); code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401", code, msg)
		}
	})
	t.Run("as signed", func(t *testing.T) {
		if code, msg := resend(path, body, nil); code != http.StatusOK {
			t.Errorf("= %d %s, want 200", code, msg)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		if code, msg := resend(path, body, nil); code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401", code, msg)
		}
	})
	t.Run("a bad signature on a method that needs none", func(t *testing.T) {
		req := h.restRequest(t, teller, "GET", "/v1/"+aliceChecking, "")
		if err := keys.signer(t, "teller-k1").Sign(req); err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Signature", "sig1=:"+strings.Repeat("A", 86)+"==:")
		if code, msg := h.do(t, req); code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401 (a signature present is always verified)", code, msg)
		}
	})
	t.Run("another principal's valid signature on a method that needs none", func(t *testing.T) {
		code, msg := h.signedREST(t, keys.signer(t, "audrey-k1"), teller, "GET", "/v1/"+aliceChecking, "")
		if code != http.StatusUnauthorized {
			t.Errorf("= %d %s, want 401 (a verified key is always bound to the caller)", code, msg)
		}
	})
}

// TestSignatureRefusalsAudited: every refused signature is in the audit
// log with its reason, on REST (refused in the chain, not by the front) as
// on gRPC.
func TestSignatureRefusalsAudited(t *testing.T) {
	text, keys := signingBundle(t)
	h := newHarnessBundle(t, "audit:\n  file: {dir: audit, fsync_interval: 0s}\n", text)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	stale := keys.signer(t, "teller-k1", sign.WithClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }))
	for _, s := range []*sign.Signer{stale, keys.signer(t, "audrey-k1")} {
		if code, msg := h.signedREST(t, s, teller, "POST", addPayeeREST.path, addPayeeREST.body); code != http.StatusUnauthorized || !strings.Contains(msg, "invalid request signature") {
			t.Fatalf("REST AddPayee = %d %s, want 401 invalid request signature", code, msg)
		}
	}
	// A forged signature header, refused by the front's verifier.
	req := h.restRequest(t, teller, "POST", addPayeeREST.path, addPayeeREST.body)
	if err := keys.signer(t, "teller-k1").Sign(req); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature", "sig1=:"+strings.Repeat("A", 86)+"==:")
	if code, msg := h.do(t, req); code != http.StatusUnauthorized {
		t.Fatalf("forged REST signature = %d %s, want 401", code, msg)
	}
	_, err := h.signedClient(stale).AddPayee(teller.outgoing(timeout(t, callTimeout)), payee)
	wantSignatureRefused(t, err)

	h.closeClients()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	byTransport := map[string][]string{}
	for _, r := range auditRecords(t, filepath.Join(h.dir, "audit")) {
		if r["method"] == bankv1.BankService_AddPayee_FullMethodName {
			why, _ := r["authn_failure"].(string)
			byTransport[r["transport"].(string)] = append(byTransport[r["transport"].(string)], why)
		}
	}
	if len(byTransport["http"]) != 3 || len(byTransport["grpc"]) != 1 {
		t.Fatalf("AddPayee records = %v, want 3 REST and 1 gRPC", byTransport)
	}
	for tr, whys := range byTransport {
		for _, why := range whys {
			if !strings.HasPrefix(why, "signature: ") || why == "signature: " {
				t.Errorf("%s record authn_failure = %q, want the signature's reason", tr, why)
			}
		}
	}
}

// TestExplainSignedMethod: explaining a method that needs a signature
// explains its authorization (the signature stage is skipped, so no nonce
// is spent and the decision is there).
func TestExplainSignedMethod(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		who     string
		status  string
		allowed bool
	}{{"teller-1", "OK", true}, {"audrey", "PermissionDenied", false}} {
		claims := map[string]any{}
		if c.who == "teller-1" {
			claims = roles("teller")
		}
		md := metadata.Pairs("authorization", "Bearer "+h.token(c.who, claims))
		ex, err := h.gw.ExplainCall(timeout(t, callTimeout), bankv1.BankService_AddPayee_FullMethodName, md,
			`{"account":"accounts/alice-checking","display_name":"Landlord","iban":"FR7630006000011234567890189"}`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := ex.Record.Decision; ex.Status != c.status || d == nil || d.Allowed != c.allowed || !ex.Method.RequireSignature {
			t.Errorf("ExplainCall(AddPayee, %s) = %s, decision %+v, want %s with a decision (allowed %v) and the method's signature requirement", c.who, ex.Status, d, c.status, c.allowed)
		}
	}
}
