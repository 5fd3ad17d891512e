package gateway_test

import (
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
)

// TestSensitivityRequirements: a class's requirement in the config applies
// to every protected method of the class, on both transports; without it
// the same calls pass.
func TestSensitivityRequirements(t *testing.T) {
	const confidential = "sensitivity:\n  confidential: {require_mtls: true, credentials: [jwt, mtls]}\n"
	for _, tc := range []struct {
		name   string
		extra  string
		cred   func(h *harness) cred
		grpc   codes.Code
		status int
	}{
		{"token without a certificate", confidential, func(h *harness) cred { return cred{bearer: h.token("teller-1", roles("teller"))} },
			codes.Unauthenticated, http.StatusUnauthorized},
		{"token over mTLS", confidential, func(h *harness) cred { return cred{bearer: h.token("teller-1", roles("teller")), cert: certTeller} },
			codes.OK, http.StatusOK},
		{"api key over mTLS, kind not allowed", confidential, func(h *harness) cred { return cred{apiKey: h.keys.reporting, cert: certTeller} },
			codes.Unauthenticated, http.StatusUnauthorized},
		{"api key without a certificate", confidential, func(h *harness) cred { return cred{apiKey: h.keys.reporting} },
			codes.Unauthenticated, http.StatusUnauthorized},
		{"no requirement: api key", "", func(h *harness) cred { return cred{apiKey: h.keys.reporting} }, codes.OK, http.StatusOK},
		{"no requirement: token", "", func(h *harness) cred { return cred{bearer: h.token("teller-1", roles("teller"))} }, codes.OK, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.extra)
			c := tc.cred(h)
			checkGRPC(t, "GetAccount", getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(c.cert)), tc.grpc)
			code, msg, err := h.rest(timeout(t, callTimeout), c, restCall{method: "GET", path: "/v1/accounts/alice-checking"})
			checkREST(t, "GET /v1/accounts/alice-checking", code, msg, err, tc.status)
		})
	}
}

// TestRestrictedDefault: restricted methods whose own policy demands no
// mTLS (the admin API's Rollback) get the class default, mTLS with a bound
// token; a sensitivity.restricted entry adds to it and never replaces it;
// only identity.allow_unbound_restricted drops it.
func TestRestrictedDefault(t *testing.T) {
	const rollback = "/portcullis.admin.v1.AdminService/Rollback"
	for _, tc := range []struct {
		name, extra string
		want        string // ExplainCall status for a plain token
		reason      string // the audit reason of a refusal, if any
	}{
		{"default", "", "Unauthenticated", "certificate"},
		{"an entry adds to the default", "sensitivity:\n  restricted: {credentials: [jwt]}\n", "Unauthenticated", "certificate"},
		{"an empty entry", "sensitivity:\n  restricted: {}\n", "Unauthenticated", "certificate"},
		// Past authentication, audrey lacks portcullis.admin.write.
		{"allow_unbound_restricted", "identity_allow_unbound", "PermissionDenied", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h *harness
			if tc.extra == "identity_allow_unbound" {
				h = newHarnessEdit(t, func(s string) string {
					return strings.Replace(s, "  mtls: true\n", "  mtls: true\n  allow_unbound_restricted: true\n", 1)
				}, "", "")
			} else {
				h = newHarnessWith(t, tc.extra)
			}
			md := metadata.Pairs("authorization", "Bearer "+h.token("audrey", nil))
			ex, err := h.gw.ExplainCall(timeout(t, callTimeout), rollback, md, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Status != tc.want {
				t.Errorf("ExplainCall(Rollback, plain token).Status = %q, want %q", ex.Status, tc.want)
			}
			if tc.reason != "" && !strings.Contains(ex.Record.AuthnFailure, tc.reason) {
				t.Errorf("authn failure = %q, want it to mention %q", ex.Record.AuthnFailure, tc.reason)
			}
		})
	}
}

// TestEffectivePolicy: the policy the tools evaluate (EffectivePolicy over
// the gateway's configuration file) is, method by method, the one the
// gateway built from that file enforces, class requirements included.
func TestEffectivePolicy(t *testing.T) {
	const getAccount = "/examples.bank.v1.BankService/GetAccount"
	for _, tc := range []struct {
		name, extra string
		mtls        bool // GetAccount (confidential) requires mTLS
	}{
		{"no sensitivity block", "", false},
		{"confidential requires mTLS", "sensitivity:\n  confidential: {require_mtls: true, credentials: [jwt, mtls]}\n", true},
		{"restricted narrowed to tokens", "sensitivity:\n  restricted: {credentials: [jwt]}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.extra)
			cfg, err := config.Load(filepath.Join(h.dir, "gateway.yaml"))
			if err != nil {
				t.Fatalf("config.Load() = %v, want nil", err)
			}
			got, err := gateway.EffectivePolicy(cfg)
			if err != nil {
				t.Fatalf("EffectivePolicy() = %v, want nil", err)
			}
			want := h.gw.Registry()
			if !slices.Equal(got.Methods(), want.Methods()) {
				t.Fatalf("EffectivePolicy() methods = %v, want the gateway's %v", got.Methods(), want.Methods())
			}
			for _, name := range want.Methods() {
				g, _ := got.Lookup(name)
				w, _ := want.Lookup(name)
				if !reflect.DeepEqual(g, w) {
					t.Errorf("EffectivePolicy() %s = %+v, want the gateway's %+v", name, g, w)
				}
			}
			if m, _ := got.Lookup(getAccount); m.RequireMTLS != tc.mtls {
				t.Errorf("EffectivePolicy() %s RequireMTLS = %v, want %v", getAccount, m.RequireMTLS, tc.mtls)
			}
		})
	}
	// Without a configuration the restricted default still applies, as in
	// a gateway without a sensitivity block.
	reg, err := gateway.EffectivePolicy(nil)
	if err != nil {
		t.Fatalf("EffectivePolicy(nil) = %v, want nil", err)
	}
	m, ok := reg.Lookup("/portcullis.admin.v1.AdminService/Rollback")
	if !ok || !m.RequireMTLS || !m.RequireBoundToken || !m.Audit.Required {
		t.Errorf("EffectivePolicy(nil) Rollback = %+v, want mTLS, a bound token and a required audit record", m)
	}
}
