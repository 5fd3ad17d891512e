package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/audit"
)

const unknownMethod = "/examples.bank.v1.BankService/Nope"

// TestAuditEveryCall: every call, allowed or refused, on both transports,
// produces exactly one audit record with the principal, the decision and
// the status; the log verifies.
func TestAuditEveryCall(t *testing.T) {
	h := newHarnessWith(t, "audit:\n  file: {dir: audit, fsync_interval: 0s}\n")
	teller := cred{bearer: h.token("teller-1", map[string]any{"roles": []string{"teller"}})}
	auditor := cred{bearer: h.token("audrey", nil)}
	calls := 0
	for _, c := range []struct {
		who  cred
		want codes.Code
	}{{teller, codes.OK}, {auditor, codes.OK}, {cred{}, codes.Unauthenticated}} {
		if got := status.Code(getAccount(c.who.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone))); got != c.want {
			t.Fatalf("GetAccount = %v, want %v", got, c.want)
		}
		calls++
	}
	// A method the gateway does not know is refused before resolution and
	// still recorded.
	_ = h.grpcClient(certNone)
	err := h.conns[certNone].Invoke(teller.outgoing(timeout(t, callTimeout)), unknownMethod, &bankv1.PingRequest{}, &bankv1.PingResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Invoke(%s) = %v, want Unimplemented", unknownMethod, err)
	}
	calls++
	for _, c := range []struct {
		who  cred
		path string
		want int
	}{{teller, "/v1/accounts/alice-checking", 200}, {auditor, "/v1/accounts", 403}} {
		code, body, err := h.rest(timeout(t, callTimeout), c.who, restCall{method: "GET", path: c.path})
		if err != nil || code != c.want {
			t.Fatalf("GET %s = %d %s %v, want %d", c.path, code, body, err, c.want)
		}
		calls++
	}
	h.closeClients()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil { // flushes the log
		t.Fatalf("Shutdown() = %v", err)
	}

	files, _ := filepath.Glob(filepath.Join(h.dir, "audit", "*.jsonl"))
	var records []map[string]any
	for _, rec := range auditRecords(t, filepath.Join(h.dir, "audit")) {
		if m, _ := rec["method"].(string); strings.HasPrefix(m, "/examples.bank.v1.BankService/") {
			records = append(records, rec)
		}
	}
	if len(records) != calls {
		t.Fatalf("audit records for bank calls = %d, want %d (one per call)", len(records), calls)
	}
	transports := map[string]int{}
	for _, r := range records {
		transports[r["transport"].(string)]++
		if r["method"] == unknownMethod {
			if st, _ := r["status"].(map[string]any); st["code"] != "UNIMPLEMENTED" || r["decision"] != nil {
				t.Errorf("record of the unknown method = %v, want status UNIMPLEMENTED and no decision", r)
			}
			continue
		}
		if r["status"] == nil || r["decision"] == nil && r["authn_failure"] == nil {
			t.Errorf("record %v lacks a status or a decision", r)
		}
	}
	if transports["grpc"] != 4 || transports["http"] != 2 {
		t.Errorf("records by transport = %v, want grpc 4, http 2", transports)
	}
	if rep, err := audit.Verify(files...); err != nil || !rep.OK() {
		t.Errorf("Verify() = %+v, %v, want an intact chain", rep, err)
	}
}

// auditRecords reads the call records of the audit segments in dir.
func auditRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) == 0 {
		t.Fatalf("no audit segment in %s", dir)
	}
	var records []map[string]any
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if rec["type"] == nil || rec["type"] == "call" {
				records = append(records, rec)
			}
		}
		fh.Close()
	}
	return records
}
