package gateway_test

import (
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
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
