package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestShadowDisagreementsAudited: with a candidate bundle in shadow, the
// live decision is enforced, and a call the candidate decides differently
// is counted and written to the audit record with both versions.
func TestShadowDisagreementsAudited(t *testing.T) {
	h := newHarnessWith(t, "audit:\n  file: {dir: audit, fsync_interval: 0s}\n")
	h.bundle(t)
	h.writeBundle(t, "test-2", "bank.quotes.read") // tellers lose bank.accounts.read
	waitFor(t, "version test-2", func() bool { return h.gw.PolicyStatus().ActiveVersion == "test-2" })
	if err := h.gw.Rollback(); err != nil {
		t.Fatalf("Rollback() = %v", err)
	}
	if err := h.gw.SetShadow("test-2"); err != nil {
		t.Fatalf("SetShadow(test-2) = %v", err)
	}
	teller := cred{bearer: h.token("teller-1", map[string]any{"roles": []string{"teller"}})}
	if got := status.Code(getAccount(teller.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone))); got != codes.OK {
		t.Fatalf("GetAccount(teller) = %v, want OK (the live test-1 decides)", got)
	}
	if st := h.gw.PolicyStatus(); st.ShadowVersion != "test-2" || st.ShadowDisagreements != 1 {
		t.Errorf("PolicyStatus() = %+v, want shadow test-2 with 1 disagreement", st)
	}
	h.closeClients()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "audit", "*.jsonl"))
	found := false
	for _, f := range files {
		fh, _ := os.Open(f)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct {
				Method   string `json:"method"`
				Decision struct {
					Allowed       bool   `json:"allowed"`
					BundleVersion string `json:"bundle_version"`
					ShadowVersion string `json:"shadow_version"`
					Disagreement  bool   `json:"disagreement"`
				} `json:"decision"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Method == "/examples.bank.v1.BankService/GetAccount" {
				d := rec.Decision
				found = d.Allowed && d.BundleVersion == "test-1" && d.ShadowVersion == "test-2" && d.Disagreement
			}
		}
		fh.Close()
	}
	if !found {
		t.Errorf("no GetAccount record with live test-1 allowed, shadow test-2 and disagreement=true")
	}
}
