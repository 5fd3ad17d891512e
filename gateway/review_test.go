package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestAdminAccessReview: the admin API's GetAccessReview reports from the
// gateway's own audit log, through the same chain (it needs
// portcullis.audit.review).
func TestAdminAccessReview(t *testing.T) {
	testAdminAccessReview(t, "audit:\n  file: {dir: audit, fsync_interval: 0s}\n", "")
}

// TestAdminAccessReviewPostgres: with a PostgreSQL sink (and no file
// sink) the review reads the table, every replica's records.
func TestAdminAccessReviewPostgres(t *testing.T) {
	const dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v", dsn, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (%v); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", dsn, err)
	}
	defer conn.Close(context.Background())
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "review_gw_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	body := testAdminAccessReview(t, fmt.Sprintf("audit:\n  postgres: {dsn: %q, table: %s.audit}\n", dsn, schema), "teller-1")
	if !strings.Contains(body, "teller-1") {
		t.Errorf("review from PostgreSQL = %s, want the teller's call in it", body)
	}
}

// testAdminAccessReview runs the review scenario with the audit block
// audit and returns the report JSON, once it mentions want.
func testAdminAccessReview(t *testing.T, audit, want string) string {
	t.Helper()
	h := newHarnessWith(t, audit)
	h.bundle(t)
	h.writeBundle(t, "test-2", "bank.accounts.read, portcullis.audit.review")
	waitFor(t, "version test-2", func() bool { return h.gw.PolicyStatus().ActiveVersion == "test-2" })
	teller := cred{bearer: h.token("teller-1", map[string]any{"roles": []string{"teller"}})}
	if got := status.Code(getAccount(teller.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone))); got != codes.OK {
		t.Fatalf("GetAccount(teller) = %v, want OK", got)
	}
	get := func(c cred) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+h.gw.Addr("admin").String()+"/admin/v1/review?since_seconds=3600", nil)
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	var code int
	var body string
	for time.Now().Before(deadline) { // the writer batches: wait for the record
		if code, body = get(teller); code == 200 && len(body) > 40 && strings.Contains(body, want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var resp struct {
		ReportJSON string `json:"reportJson"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &resp) != nil || !json.Valid([]byte(resp.ReportJSON)) || len(resp.ReportJSON) < 10 {
		t.Fatalf("GET /admin/v1/review = %d %s, want 200 with a JSON report", code, body)
	}
	if code, _ := get(cred{}); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/v1/review without credentials = %d, want 401", code)
	}
	auditor := cred{bearer: h.token("audrey", nil)}
	if code, _ := get(auditor); code != http.StatusForbidden {
		t.Errorf("GET /admin/v1/review as auditor = %d, want 403", code)
	}
	return resp.ReportJSON
}
