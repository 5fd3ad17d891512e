package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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
