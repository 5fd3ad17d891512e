package review_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/postgres"
	"github.com/portcullis/portcullis/interceptors/audit/review"
	"github.com/portcullis/portcullis/policy"
)

func testDSN() string {
	if d := os.Getenv("PORTCULLIS_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// TestReviewPostgres: the same generated log, copied into PostgreSQL and
// read back by `audit review --postgres`, gives the golden report.
func TestReviewPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDSN())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v", testDSN(), err)
		}
		t.Skipf("PostgreSQL not reachable at %s (%v); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", testDSN(), err)
	}
	defer conn.Close(context.Background())
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "review_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") //nolint:errcheck // best-effort cleanup
	table := schema + ".audit"

	sink, err := postgres.New(ctx, testDSN(), postgres.WithTable(table), postgres.WithChain("review"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New([]audit.Sink{sink})
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range audit.ReadFiles(generate(t)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == audit.TypeCall {
			e.Seq, e.PrevHash, e.Hash = 0, "", "" // the sink chains anew
			l.Log(e)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	bundle, reg := fixtures(t)
	load := func(string) (*policy.Bundle, *policy.Registry, error) { return bundle, reg, nil }
	var stdout, stderr bytes.Buffer
	args := []string{"--bundle", "b.yaml", "--now", "2026-12-01T00:00:00Z", "--postgres", testDSN(), "--table", table}
	if code := review.RunReview(args, &stdout, &stderr, load); code != 0 {
		t.Fatalf("RunReview(%q) = %d (stderr %q), want 0", args, code, stderr.String())
	}
	golden(t, "review.txt", stdout.Bytes())
}
