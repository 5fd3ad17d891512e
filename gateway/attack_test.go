package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

// tellerClaims are the claims of a valid teller token, changed by edit.
func (h *harness) tellerClaims(edit func(c map[string]any)) map[string]any {
	c := h.iss.Claims("teller-1", audience, time.Hour)
	c["roles"] = []string{"teller"}
	if edit != nil {
		edit(c)
	}
	return c
}

// unsigned is an "alg": "none" token.
func unsigned(claims map[string]any) string {
	body, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(body) + "."
}

// publicKeyPEM is the issuer's current public key, PEM-encoded: the HMAC
// secret of the classic algorithm-confusion attack.
func (h *harness) publicKeyPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(h.iss.PublicKey())
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey() = %v, want nil", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey() = %v, want nil", err)
	}
	return k
}

// wrongSecret is the reporting bot's key id with another secret.
func (h *harness) wrongSecret(t *testing.T) string {
	other, _, _, err := policy.NewAPIKey()
	if err != nil {
		t.Fatalf("policy.NewAPIKey() = %v, want nil", err)
	}
	i := strings.LastIndexByte(h.keys.reporting, '_')
	j := strings.LastIndexByte(other, '_')
	return h.keys.reporting[:i] + other[j:]
}

// spoofed claims the teller's certificate and a REST call from 10.1.2.3
// through the internal metadata keys the REST front sets.
func (h *harness) spoofed(prefix, cert, spiffe string) []string {
	return []string{
		prefix + policy.KeyClientCertSHA256, authntest.Thumbprint(h.leaf(cert)),
		prefix + policy.KeyClientSPIFFE, spiffe,
		prefix + policy.KeyClientSubject, "CN=" + spiffe,
		prefix + policy.KeyTransport, policy.TransportHTTP,
		prefix + policy.KeyClientAddr, "10.1.2.3:5",
	}
}

const metaPrefix = "Grpc-Metadata-" // grpc-gateway's header prefix for metadata

// attack is one hostile call: what is presented, to which method, on
// which transports, and the only acceptable outcome.
type attack struct {
	name     string
	cred     func(t *testing.T, h *harness) cred
	method   string // default GetAccount
	grpcOnly bool
	restOnly bool
	want     want
}

func bearer(f func(t *testing.T, h *harness) string) func(*testing.T, *harness) cred {
	return func(t *testing.T, h *harness) cred { return cred{bearer: f(t, h)} }
}

func header(k string, v func(t *testing.T, h *harness) string) func(*testing.T, *harness) cred {
	return func(t *testing.T, h *harness) cred { return cred{pairs: []string{k, v(t, h)}} }
}

func validTeller(_ *testing.T, h *harness) string { return h.iss.Sign(h.tellerClaims(nil)) }

var attacks = []attack{
	{name: "control: valid teller token", cred: bearer(validTeller), want: allowed},

	// Forged and invalid tokens.
	{name: "alg none", cred: bearer(func(_ *testing.T, h *harness) string { return unsigned(h.tellerClaims(nil)) }), want: unauth},
	{name: "HS256 keyed with the issuer's public key", cred: bearer(func(t *testing.T, h *harness) string {
		return authntest.SignWith("HS256", h.iss.KeyID(), h.publicKeyPEM(t), h.tellerClaims(nil))
	}), want: unauth},
	{name: "unknown kid", cred: bearer(func(t *testing.T, h *harness) string {
		return authntest.SignWith("ES256", "unknown-kid", newKey(t), h.tellerClaims(nil))
	}), want: unauth},
	{name: "issuer's kid, another key", cred: bearer(func(t *testing.T, h *harness) string {
		return authntest.SignWith("ES256", h.iss.KeyID(), newKey(t), h.tellerClaims(nil))
	}), want: unauth},
	{name: "unconfigured issuer", cred: bearer(func(_ *testing.T, _ *harness) string {
		other := authntest.NewIssuer("https://other.example", "ES256")
		c := other.Claims("teller-1", audience, time.Hour)
		c["roles"] = []string{"teller"}
		return other.Sign(c)
	}), want: unauth},
	{name: "another issuer using our iss", cred: bearer(func(_ *testing.T, h *harness) string {
		return authntest.NewIssuer(issuerName, "ES256").Sign(h.tellerClaims(nil))
	}), want: unauth},
	{name: "expired", cred: bearer(func(_ *testing.T, h *harness) string {
		now := time.Now()
		return h.iss.Sign(h.tellerClaims(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))
	}), want: unauth},
	{name: "not yet valid", cred: bearer(func(_ *testing.T, h *harness) string {
		now := time.Now()
		return h.iss.Sign(h.tellerClaims(func(c map[string]any) {
			c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
		}))
	}), want: unauth},
	{name: "wrong audience", cred: bearer(func(_ *testing.T, h *harness) string {
		return h.iss.Sign(h.tellerClaims(func(c map[string]any) { c["aud"] = "another-api" }))
	}), want: unauth},
	{name: "past max lifetime", cred: bearer(func(_ *testing.T, h *harness) string {
		return h.iss.Sign(h.tellerClaims(func(c map[string]any) { c["exp"] = time.Now().Add(48 * time.Hour).Unix() }))
	}), want: unauth},
	{name: "oversized token", cred: bearer(func(_ *testing.T, h *harness) string {
		return h.iss.Sign(h.tellerClaims(func(c map[string]any) { c["pad"] = strings.Repeat("a", 9000) }))
	}), want: unauth},

	// A valid token in the wrong place.
	{name: "x-authorization header", cred: header("x-authorization", func(t *testing.T, h *harness) string {
		return "Bearer " + validTeller(t, h)
	}), want: unauth},
	{name: "authorization Basic", cred: header("authorization", func(*testing.T, *harness) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("teller-1:secret"))
	}), want: unauth},
	{name: "authorization Token scheme", cred: header("authorization", func(t *testing.T, h *harness) string {
		return "Token " + validTeller(t, h)
	}), want: unauth},

	// A stolen certificate-bound token.
	{name: "bound token without its certificate", cred: bearer(func(_ *testing.T, h *harness) string { return h.boundToken() }), want: unauth},
	{name: "bound token with another certificate", cred: func(_ *testing.T, h *harness) cred {
		return cred{bearer: h.boundToken(), cert: certLedger}
	}, want: unauth},
	{name: "unbound closer token over mTLS, CloseAccount", method: "CloseAccount", cred: func(_ *testing.T, h *harness) cred {
		return cred{bearer: h.token("teller-1", roles("teller", "closer")), cert: certTeller}
	}, want: unauth},
	{name: "bound token with another certificate, CloseAccount", method: "CloseAccount", cred: func(_ *testing.T, h *harness) cred {
		return cred{bearer: h.boundToken(), cert: certLedger}
	}, want: unauth},

	// API keys that must not work.
	{name: "disabled API key", cred: func(_ *testing.T, h *harness) cred { return cred{apiKey: h.keys.disabled} }, want: unauth},
	{name: "expired API key", cred: func(_ *testing.T, h *harness) cred { return cred{apiKey: h.keys.expired} }, want: unauth},
	{name: "API key from a disallowed address", cred: func(_ *testing.T, h *harness) cred { return cred{apiKey: h.keys.remote} }, want: unauth},
	{name: "API key with a wrong secret", cred: func(t *testing.T, h *harness) cred { return cred{apiKey: h.wrongSecret(t)} }, want: unauth},

	// Spoofed internal metadata: stripped from every client.
	{name: "spoofed teller identity", cred: func(_ *testing.T, h *harness) cred {
		return cred{pairs: h.spoofed("", certTeller, tellerSPIFFE)}
	}, want: unauth},
	{name: "spoofed teller identity, Grpc-Metadata headers", restOnly: true, cred: func(_ *testing.T, h *harness) cred {
		return cred{pairs: h.spoofed(metaPrefix, certTeller, tellerSPIFFE)}
	}, want: unauth},
	{name: "spoofed ledger identity, Reconcile", method: "Reconcile", grpcOnly: true, cred: func(_ *testing.T, h *harness) cred {
		return cred{pairs: h.spoofed("", certLedger, ledgerSPIFFE)}
	}, want: unauth},
	{name: "10/8 API key with spoofed client address", cred: func(_ *testing.T, h *harness) cred {
		return cred{apiKey: h.keys.remote, pairs: []string{policy.KeyTransport, policy.TransportHTTP, policy.KeyClientAddr, "10.1.2.3:5"}}
	}, want: unauth},
	{name: "10/8 API key with spoofed client address, Grpc-Metadata headers", restOnly: true, cred: func(_ *testing.T, h *harness) cred {
		return cred{apiKey: h.keys.remote, pairs: []string{metaPrefix + policy.KeyTransport, policy.TransportHTTP, metaPrefix + policy.KeyClientAddr, "10.1.2.3:5"}}
	}, want: unauth},
	{name: "10/8 API key with X-Forwarded-For", cred: func(_ *testing.T, h *harness) cred {
		return cred{apiKey: h.keys.remote, pairs: []string{"x-forwarded-for", "10.1.2.3"}}
	}, want: unauth},

	// Authenticated, not allowed.
	{name: "scope-narrowed token, ListAccounts", method: "ListAccounts", cred: bearer(func(_ *testing.T, h *harness) string {
		return h.iss.Sign(h.tellerClaims(func(c map[string]any) { c["scope"] = "bank.accounts.read" }))
	}), want: denied},
	{name: "teller, small transfer", method: "CreateTransferSmall", cred: bearer(validTeller), want: allowed},
	{name: "teller, large transfer", method: "CreateTransferLarge", cred: bearer(validTeller), want: denied},
}

func TestAttacks(t *testing.T) {
	h := newHarness(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			c := a.cred(t, h)
			name := a.method
			if name == "" {
				name = "GetAccount"
			}
			i := slices.IndexFunc(methods, func(m method) bool { return m.name == name })
			if i < 0 {
				t.Fatalf("attack %q: unknown method %q", a.name, name)
			}
			m := methods[i]
			if !a.restOnly {
				t.Run("grpc", func(t *testing.T) {
					checkGRPC(t, m.name, m.grpc(c.outgoing(timeout(t, callTimeout)), h.grpcClient(c.cert)), a.want.code)
				})
			}
			if !a.grpcOnly && m.rest != nil {
				t.Run("rest", func(t *testing.T) {
					got, msg, err := h.rest(timeout(t, callTimeout), c, *m.rest)
					checkREST(t, m.rest.path, got, msg, err, a.want.http)
				})
			}
		})
	}
}

// TestUntrustedClientCertificate: a certificate from a CA the listener
// does not trust fails the handshake or authenticates nobody; it never
// reaches authorization, let alone the backend.
func TestUntrustedClientCertificate(t *testing.T) {
	h := newHarness(t)
	c := cred{cert: certUntrusted}
	for _, m := range methods {
		if m.name != "GetAccount" && m.name != "Reconcile" && m.name != "ImportTransactions" {
			continue
		}
		t.Run(m.name+"/grpc", func(t *testing.T) {
			err := m.grpc(c.outgoing(timeout(t, callTimeout)), h.grpcClient(c.cert))
			switch status.Code(err) {
			case codes.Unavailable: // handshake refused
			case codes.Unauthenticated:
				checkMessage(t, m.name, status.Convert(err).Message(), codes.Unauthenticated)
			default:
				t.Errorf("%s() with untrusted-client.pem = %v, want Unavailable (handshake) or Unauthenticated", m.name, err)
			}
		})
		if m.rest == nil {
			continue
		}
		t.Run(m.name+"/rest", func(t *testing.T) {
			got, msg, err := h.rest(timeout(t, callTimeout), c, *m.rest)
			if err == nil && got != 401 {
				t.Errorf("REST %s with untrusted-client.pem = %d (%q), want a handshake error or 401", m.rest.path, got, msg)
			}
			if err == nil {
				checkMessage(t, "REST "+m.rest.path, msg, codes.Unauthenticated)
			}
		})
	}
}

// TestJWKSRotation rotates the issuer's key while the gateway serves: the
// new key works once the file is re-read, the old one until it is removed,
// even for a token the gateway has verified and cached.
func TestJWKSRotation(t *testing.T) {
	h := newHarness(t)
	client := h.grpcClient(certNone)
	call := func(tok string) error { return getAccount(cred{bearer: tok}.outgoing(timeout(t, callTimeout)), client) }
	refused := func(tok string) func() error {
		return func() error {
			if err := call(tok); status.Code(err) != codes.Unauthenticated {
				return errors.New("still accepted")
			}
			return nil
		}
	}

	old := h.token("teller-1", roles("teller"))
	checkGRPC(t, "GetAccount(old key)", call(old), codes.OK) // verified and cached

	h.iss.Rotate()
	fresh := h.token("teller-1", roles("teller"))
	checkGRPC(t, "GetAccount(unpublished key)", call(fresh), codes.Unauthenticated)
	if err := h.iss.WriteJWKS(h.jwks); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	if err := eventually(5*time.Second, func() error { return call(fresh) }); err != nil {
		t.Fatalf("GetAccount(new key) after rotation = %v, want nil within 5s", err)
	}
	checkGRPC(t, "GetAccount(old key) after rotation", call(old), codes.OK)

	h.iss.RemoveOld()
	if err := h.iss.WriteJWKS(h.jwks); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	if err := eventually(5*time.Second, refused(old)); err != nil {
		t.Fatalf("GetAccount(removed key) = %v, want Unauthenticated within 5s", err)
	}
	checkGRPC(t, "GetAccount(removed key)", call(old), codes.Unauthenticated)
	checkGRPC(t, "GetAccount(new key)", call(fresh), codes.OK)
	got, msg, err := h.rest(timeout(t, callTimeout), cred{bearer: old}, *getAccountREST)
	checkREST(t, getAccountREST.path+" (removed key)", got, msg, err, 401)
	got, msg, err = h.rest(timeout(t, callTimeout), cred{bearer: fresh}, *getAccountREST)
	checkREST(t, getAccountREST.path+" (new key)", got, msg, err, 200)
}

func TestExplainCall(t *testing.T) {
	h := newHarness(t)
	const fullMethod = "/examples.bank.v1.BankService/ListAccounts"
	md := metadata.Pairs("authorization", "Bearer "+h.token("audrey", nil))
	ex, err := h.gw.ExplainCall(timeout(t, callTimeout), fullMethod, md, "", nil)
	if err != nil {
		t.Fatalf("ExplainCall(%s) = %v, want nil", fullMethod, err)
	}
	if ex.Status != "PermissionDenied" {
		t.Errorf("ExplainCall(%s).Status = %q, want %q", fullMethod, ex.Status, "PermissionDenied")
	}
	d := ex.Record.Decision
	if d == nil {
		t.Fatalf("ExplainCall(%s).Record.Decision = nil, want a decision", fullMethod)
	}
	if d.Allowed || d.FailedRequirement != "permission" {
		t.Errorf("ExplainCall(%s) decision = allowed %v, failed %q; want false, %q", fullMethod, d.Allowed, d.FailedRequirement, "permission")
	}
	if !slices.Equal(d.Roles, []string{"auditor"}) {
		t.Errorf("ExplainCall(%s).Record.Decision.Roles = %v, want [auditor]", fullMethod, d.Roles)
	}
	if p := ex.Record.Principal; p == nil || p.ID != "audrey" {
		t.Errorf("ExplainCall(%s).Record.Principal = %+v, want audrey", fullMethod, p)
	}
}
