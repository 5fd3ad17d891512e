package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/postgres"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const startHint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// dsn is the test database: PORTCULLIS_TEST_POSTGRES, else the local
// server with trust authentication.
func dsn() string {
	if d := os.Getenv("PORTCULLIS_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// db connects to the test database and creates a schema of the test's
// own, dropped at the end. It skips (fails with CI=true) when PostgreSQL
// is not reachable.
func db(t testing.TB) (*pgx.Conn, string) {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v", dsn(), err)
		}
		t.Skipf("PostgreSQL not reachable at %s (%v); %s", dsn(), err, startHint)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "audit_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("CREATE SCHEMA %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		_ = conn.Close(ctx)
	})
	return conn, schema + ".audit"
}

func newSink(t testing.TB, table, chain string) *postgres.Sink {
	t.Helper()
	s, err := postgres.New(testContext(t), dsn(), postgres.WithTable(table), postgres.WithChain(chain))
	if err != nil {
		t.Fatalf("postgres.New(%s) = %v, want nil", table, err)
	}
	return s
}

func count(t testing.TB, conn *pgx.Conn, q string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(testContext(t), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func writeEvents(t testing.TB, s audit.Sink, from, n int) {
	t.Helper()
	l, err := audit.New([]audit.Sink{s}, audit.WithBatch(7, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		e := l.NewEvent()
		e.Time = time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC)
		e.RequestID, e.Method, e.Transport, e.Status.Code = fmt.Sprintf("r%d", i), "/bank.v1.Bank/Get", "grpc", "OK"
		e.Principal = audit.Principal{ID: "alice\x00", Kind: "user"}
		e.Decision = audit.Decision{Allowed: i%2 == 0, Reason: "test", BundleVersion: "v1"}
		l.Log(e)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
}

func TestMigrate(t *testing.T) {
	conn, table := db(t)
	for range 2 { // idempotent
		if err := postgres.Migrate(testContext(t), conn, table); err != nil {
			t.Fatalf("Migrate(%s) = %v, want nil", table, err)
		}
	}
	schema := table[:len(table)-len(".audit")]
	got := count(t, conn, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit'`, schema)
	if got != 5 { // primary key and four review indexes
		t.Errorf("indexes on %s = %d, want 5", table, got)
	}
	for _, bad := range []string{"Audit", "a.b.c", "x;drop", ""} {
		if err := postgres.Migrate(testContext(t), conn, bad); err == nil {
			t.Errorf("Migrate(%q) = nil, want an error", bad)
		}
	}
}

// TestChain: batches go in with typed columns, the chain continues across
// restarts, and Verify passes.
func TestChain(t *testing.T) {
	conn, table := db(t)
	writeEvents(t, newSink(t, table, "gw-1"), 0, 20)
	writeEvents(t, newSink(t, table, "gw-1"), 20, 5) // a restart
	writeEvents(t, newSink(t, table, "gw-2"), 0, 3)  // another replica
	if n := count(t, conn, `SELECT count(*) FROM `+table+` WHERE chain = 'gw-1' AND seq BETWEEN 1 AND 25`); n != 25 {
		t.Errorf("gw-1 rows with seq 1..25 = %d, want 25", n)
	}
	r, err := postgres.Verify(testContext(t), conn, table)
	if err != nil || !r.OK() || r.Records != 28 || r.Segments != 2 {
		t.Fatalf("Verify(%s) = %+v, %v, want 28 records in 2 chains", table, r, err)
	}
	var pid, status string
	var allowed bool
	if err := conn.QueryRow(testContext(t), `SELECT principal_id, allowed, status FROM `+table+` WHERE chain='gw-1' AND seq=1`).Scan(&pid, &allowed, &status); err != nil {
		t.Fatal(err)
	}
	if pid != "alice\uFFFD" || !allowed || status != "OK" {
		t.Errorf("row 1 = %q, %v, %q, want alice\\uFFFD, true, OK", pid, allowed, status)
	}
	var n int
	for e, err := range postgres.Read(testContext(t), conn, table, time.Date(2026, 12, 1, 0, 0, 10, 0, time.UTC)) {
		if err != nil {
			t.Fatalf("Read() = %v, want nil", err)
		}
		if e.Time.Before(time.Date(2026, 12, 1, 0, 0, 10, 0, time.UTC)) {
			t.Errorf("Read(since) yielded a record of %v", e.Time)
		}
		n++
	}
	if n != 15 {
		t.Errorf("Read(since 00:00:10) = %d records, want 15", n)
	}
}

// TestVerifyTampering: edited, deleted and inconsistent rows are found at
// the exact row.
func TestVerifyTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sql    string
		seq    uint64
		reason audit.Reason
	}{
		{name: "edited record", sql: `UPDATE %s SET record = jsonb_set(record, '{request_id}', '"forged"') WHERE seq = 4`, seq: 4, reason: audit.ReasonHashMismatch},
		{name: "edited column", sql: `UPDATE %s SET method = '/forged' WHERE seq = 5`, seq: 5, reason: audit.ReasonHashMismatch},
		{name: "flipped decision column", sql: `UPDATE %s SET allowed = NOT allowed WHERE seq = 2`, seq: 2, reason: audit.ReasonHashMismatch},
		{name: "deleted row", sql: `DELETE FROM %s WHERE seq = 6`, seq: 7, reason: audit.ReasonSeqGap},
		{name: "deleted first row", sql: `DELETE FROM %s WHERE seq = 1`, seq: 2, reason: audit.ReasonSeqGap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, table := db(t)
			writeEvents(t, newSink(t, table, "gw"), 0, 10)
			if _, err := conn.Exec(testContext(t), fmt.Sprintf(tc.sql, table)); err != nil {
				t.Fatal(err)
			}
			r, err := postgres.Verify(testContext(t), conn, table)
			if err != nil || r.Broken == nil || r.Broken.Seq != tc.seq || r.Broken.Reason != tc.reason {
				t.Fatalf("Verify(%s) = %+v, %v, want a %q break at seq %d", tc.name, r.Broken, err, tc.reason, tc.seq)
			}
		})
	}
}

// TestLoad: records == calls under bounded concurrent load through a real
// server into PostgreSQL, with a file sink alongside.
func TestLoad(t *testing.T) {
	conn, table := db(t)
	fs, err := audit.NewFileSink(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New([]audit.Sink{newSink(t, table, "load"), fs}, audit.WithQueueSize(512))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv := grpctest.Start(t, nil,
		grpc.ChainUnaryInterceptor(audit.UnaryServerInterceptor(l)),
		grpc.ChainStreamInterceptor(audit.StreamServerInterceptor(l)))
	const workers, perWorker = 16, 50
	var wg sync.WaitGroup
	var failed sync.Map
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				c := grpctest.Calls()[i%4]
				ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", fmt.Sprintf("w%d-%d", w, i))
				if err := c.Invoke(ctx, srv.Client); err != nil {
					failed.Store(w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	failed.Range(func(k, v any) bool { t.Fatalf("worker %v: %v", k, v); return false })
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if n := count(t, conn, `SELECT count(DISTINCT request_id) FROM `+table+` WHERE type = 'call'`); n != workers*perWorker {
		t.Fatalf("distinct call rows = %d, want %d", n, workers*perWorker)
	}
	r, err := postgres.Verify(testContext(t), conn, table)
	if err != nil || !r.OK() || r.Records != workers*perWorker {
		t.Fatalf("Verify() = %+v, %v, want %d records", r, err, workers*perWorker)
	}
}

// BenchmarkPostgresSink: end to end through a Logger (encoding, chaining,
// one COPY per batch of up to 1024). Reports records/s.
func BenchmarkPostgresSink(b *testing.B) {
	_, table := db(b)
	s := newSink(b, table, "bench")
	l, err := audit.New([]audit.Sink{s})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		e := l.NewEvent()
		e.Time, e.RequestID, e.Method, e.Transport, e.Status.Code = start, "0123456789abcdef", "/bank.v1.Bank/Transfer", "grpc", "OK"
		e.Principal = audit.Principal{ID: "alice", Kind: "user"}
		e.Decision = audit.Decision{Allowed: true, Reason: "granted", Required: []string{"bank.transfers.create"}, BundleVersion: "v1"}
		l.Log(e)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
