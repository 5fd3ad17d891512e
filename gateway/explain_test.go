package gateway_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/policy"
)

// Explaining a call: its request rate, audit and API keys known by id.

// TestRequestRateCondition: a bundle condition on context.request_rate
// sees the principal's live calls (gRPC and REST share one meter), and
// explaining a call reads the rate without counting it.
func TestRequestRateCondition(t *testing.T) {
	const get = "/examples.bank.v1.BankService/GetAccount"
	// 10 s time constant: each call adds 0.1/s, so the 10th call in a
	// quick run reaches 1.0.
	h := newHarnessBundle(t, "", "overrides:\n  "+get+":\n    condition: \"context.request_rate < 1.0\"\n")
	token := h.token("audrey", nil)
	md := metadata.Pairs("authorization", "Bearer "+token)
	for i := range 100 {
		ex, err := h.gw.ExplainCall(timeout(t, callTimeout), get, md, `{"name":"accounts/alice-checking"}`, nil)
		if err != nil || ex.Status != "OK" {
			t.Fatalf("explain %d = %+v, %v, want OK (an explanation is not a call)", i+1, ex, err)
		}
	}
	c := cred{bearer: token}
	if err := getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone)); err != nil {
		t.Fatalf("first live call after 100 explanations: %v, want OK", err)
	}
	code, msg, err := h.rest(timeout(t, callTimeout), c, restCall{method: "GET", path: "/v1/accounts/alice-checking"})
	if err != nil || code != 200 {
		t.Fatalf("REST call: %d %q %v, want 200", code, msg, err)
	}
	for range 13 { // the 10th and later calls are refused; 15 calls in all
		_ = getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone))
	}
	checkGRPC(t, "GetAccount over the rate", getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone)), 7 /* PermissionDenied */)
	ex, err := h.gw.ExplainCall(timeout(t, callTimeout), get, md, `{"name":"accounts/alice-checking"}`, nil)
	if err != nil || ex.Status != "PermissionDenied" || ex.Record.Decision == nil || ex.Record.Decision.FailedRequirement != "condition" {
		t.Errorf("explain after 16 live calls = %+v, %v, want PermissionDenied by the condition", ex, err)
	}
}

// TestExplainNotAudited: an explained call is not recorded as a call (the
// access review would count its permissions as used).
func TestExplainNotAudited(t *testing.T) {
	h := newHarnessWith(t, "audit:\n  file: {dir: audit, fsync_interval: 0s}\n")
	md := metadata.Pairs("authorization", "Bearer "+h.token("audrey", nil))
	const get = "/examples.bank.v1.BankService/GetAccount"
	if ex, err := h.gw.ExplainCall(timeout(t, callTimeout), get, md, `{"name":"accounts/alice-checking"}`, nil); err != nil || ex.Status != "OK" {
		t.Fatalf("ExplainCall = %+v, %v, want OK", ex, err)
	}
	c := cred{bearer: h.token("audrey", nil)}
	if err := getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone)); err != nil {
		t.Fatal(err)
	}
	h.closeClients()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range auditRecords(t, filepath.Join(h.dir, "audit")) {
		if r["method"] == get {
			n++
		}
	}
	if n != 1 {
		t.Errorf("audit records of GetAccount = %d, want 1 (the live call, not the explanation)", n)
	}
}

// TestExplainAPIKeyID: a key known by its id alone is explained with its
// bundle entry, every check but the secret's applied.
func TestExplainAPIKeyID(t *testing.T) {
	h := newHarness(t)
	id := func(key string) string {
		k, _, err := policy.ParseAPIKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	local := &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}}
	office := &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 50000}}
	const get = "/examples.bank.v1.BankService/GetAccount"
	for _, tc := range []struct {
		name, method, id string
		p                *peer.Peer
		status, reason   string
	}{
		{"allowed", get, id(h.keys.reporting), local, "OK", ""},
		{"unknown", get, "nosuchkey000", local, "Unauthenticated", "unknown"},
		{"disabled", get, id(h.keys.disabled), local, "Unauthenticated", "disabled"},
		{"expired", get, id(h.keys.expired), local, "Unauthenticated", "expired"},
		{"outside its cidrs", get, id(h.keys.remote), local, "Unauthenticated", "not in"},
		{"inside its cidrs", get, id(h.keys.remote), office, "OK", ""},
		// CloseAccount takes JWTs only: authorization still checks the kind.
		{"credential kind not allowed", "/examples.bank.v1.BankService/CloseAccount", id(h.keys.reporting), local, "PermissionDenied", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := h.gw.ExplainAPIKey(timeout(t, callTimeout), tc.method, tc.id, `{"name":"accounts/alice-checking"}`, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Status != tc.status {
				t.Errorf("Status = %q (%q), want %q", ex.Status, ex.Record.AuthnFailure, tc.status)
			}
			if tc.reason != "" && !strings.Contains(ex.Record.AuthnFailure, tc.reason) {
				t.Errorf("AuthnFailure = %q, want it to mention %q", ex.Record.AuthnFailure, tc.reason)
			}
			if tc.status == "OK" && (ex.Record.Principal == nil || ex.Record.Principal.ID != "reporting-bot" || ex.Record.Decision == nil || !ex.Record.Decision.Allowed) {
				t.Errorf("Record = %+v, want reporting-bot allowed with a decision trace", ex.Record)
			}
		})
	}
	if _, err := h.gw.ExplainAPIKey(timeout(t, callTimeout), get, "", "", local); err == nil {
		t.Error("ExplainAPIKey(empty id) = nil error, want one")
	}
}
