package gateway_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// TestTrustedProxies: behind a trusted proxy (the tests' own 127.0.0.1),
// every stage sees the client address of X-Forwarded-For: API-key cidrs,
// context.client_ip and context.method in conditions, and the audit record,
// on gRPC and REST alike. Without trusted_proxies the header is ignored, so
// a client cannot pick an address.
func TestTrustedProxies(t *testing.T) {
	const getAccountMethod = "/examples.bank.v1.BankService/GetAccount"
	// GetAccount is refused to one client address, and only for this method.
	override := fmt.Sprintf(`overrides:
  %s:
    condition: "context.client_ip != '10.9.9.9' && context.method == '%s'"
`, getAccountMethod, getAccountMethod)
	for _, tc := range []struct {
		name    string
		trusted bool
		key     func(h *harness) string
		xff     string // "" sends none
		grpc    codes.Code
		http    int
		auditIP string
		// forwarded uses forwarded_header: forwarded and sends these
		// pairs instead of xff; restOnly skips the gRPC call (grpc-go
		// refuses to send the header).
		forwarded []string
		restOnly  bool
	}{
		// The key is restricted to 10.0.0.0/8: the client behind the proxy is in it.
		{"client in the key's cidrs", true, func(h *harness) string { return h.keys.remote }, "10.1.2.3", codes.OK, http.StatusOK, "10.1.2.3", nil, false},
		// The key is restricted to 127.0.0.0/8: the proxy is, the client is not.
		{"proxy in the key's cidrs, client not", true, func(h *harness) string { return h.keys.reporting }, "203.0.113.5", codes.Unauthenticated, http.StatusUnauthorized, "203.0.113.5", nil, false},
		{"condition on the client address", true, func(h *harness) string { return h.keys.remote }, "10.9.9.9", codes.PermissionDenied, http.StatusForbidden, "10.9.9.9", nil, false},
		{"no header: the proxy itself", true, func(h *harness) string { return h.keys.remote }, "", codes.Unauthenticated, http.StatusUnauthorized, "127.0.0.1", nil, false},
		{"untrusted peer: header ignored", false, func(h *harness) string { return h.keys.remote }, "10.1.2.3", codes.Unauthenticated, http.StatusUnauthorized, "127.0.0.1", nil, false},
		{"untrusted peer: own address kept", false, func(h *harness) string { return h.keys.reporting }, "203.0.113.5", codes.OK, http.StatusOK, "127.0.0.1", nil, false},
		// A byte grpc-gateway cannot pass in the client's part of the line
		// the proxy appended to must not erase the proxy's entry.
		{"invalid byte before the proxy's entry", true, func(h *harness) string { return h.keys.reporting }, "\xff, 203.0.113.5", codes.OK, http.StatusUnauthorized, "203.0.113.5", nil, true},
		{"non-ASCII before the proxy's entry", true, func(h *harness) string { return h.keys.reporting }, "ä, 203.0.113.5", codes.OK, http.StatusUnauthorized, "203.0.113.5", nil, true},
		{"forwarded header", true, func(h *harness) string { return h.keys.remote }, "", codes.OK, http.StatusOK, "10.1.2.3",
			[]string{"forwarded", "for=10.1.2.3;proto=https"}, false},
		// grpc-metadata-forwarded is an ordinary key on gRPC, and refused on REST.
		{"forwarded spoofed through grpc-metadata", true, func(h *harness) string { return h.keys.remote }, "", codes.Unauthenticated, http.StatusUnauthorized, "203.0.113.5",
			[]string{"forwarded", "for=203.0.113.5", "grpc-metadata-forwarded", "for=10.1.2.3"}, false},
		{"x-forwarded-for ignored in forwarded mode", true, func(h *harness) string { return h.keys.remote }, "", codes.Unauthenticated, http.StatusUnauthorized, "127.0.0.1",
			[]string{"x-forwarded-for", "10.1.2.3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := "audit:\n  file: {dir: audit, fsync_interval: 0s}\n"
			if tc.trusted {
				extra += "trusted_proxies: [127.0.0.0/8, \"::1/128\"]\n"
			}
			if tc.forwarded != nil {
				extra += "forwarded_header: forwarded\n"
			}
			h := newHarnessBundle(t, extra, override)
			c := cred{apiKey: tc.key(h), pairs: tc.forwarded}
			if tc.xff != "" {
				c.pairs = []string{"x-forwarded-for", tc.xff}
			}
			if !tc.restOnly {
				checkGRPC(t, "GetAccount", getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone)), tc.grpc)
			}
			code, msg, err := h.rest(timeout(t, callTimeout), c, restCall{method: "GET", path: "/v1/accounts/alice-checking"})
			checkREST(t, "GET /v1/accounts/alice-checking", code, msg, err, tc.http)

			h.closeClients()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.gw.Shutdown(ctx); err != nil { // flushes the log
				t.Fatalf("Shutdown() = %v", err)
			}
			got := map[string]int{}
			for _, r := range auditRecords(t, filepath.Join(h.dir, "audit")) {
				if r["method"] == getAccountMethod {
					ip, _ := r["client_ip"].(string)
					got[r["transport"].(string)+" "+ip]++
				}
			}
			want := map[string]int{"grpc " + tc.auditIP: 1, "http " + tc.auditIP: 1}
			if tc.restOnly {
				delete(want, "grpc "+tc.auditIP)
			}
			if !maps.Equal(got, want) {
				t.Errorf("audit records by transport and client_ip = %v, want %v", got, want)
			}
		})
	}
}
