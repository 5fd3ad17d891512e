package gateway_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

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
