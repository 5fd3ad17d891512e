package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// TestAuditSurvivesKill9: the gateway is killed with SIGKILL in the middle
// of load; `portcullis audit verify` still passes on what it wrote.
func TestAuditSurvivesKill9(t *testing.T) {
	be := newBackend(t, "bank-backend")
	dir := t.TempDir()
	g := newGateway(t, gatewayConfig{
		routes: []route{{service: bankService, backend: be.addr}},
		extra:  fmt.Sprintf("rate_limits: {shadow: true}\naudit:\n  file: {dir: %q, fsync_interval: 10ms}\n", dir),
	})
	c := bankv1.NewBankServiceClient(dial(t, g.grpcAddr))
	var done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if _, err := c.Ping(ctx, &bankv1.PingRequest{}); err == nil {
					done.Add(1)
				}
				cancel()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	if err := g.signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	close(stop)
	wg.Wait()
	_, _ = g.wait(5 * time.Second)
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) == 0 || done.Load() == 0 {
		t.Fatalf("segments %v after %d calls, want some", files, done.Load())
	}
	out, err := exec.Command(binPath("portcullis"), append([]string{"audit", "verify"}, files...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Errorf("portcullis audit verify after kill -9 = %v\n%s\nwant OK", err, out)
	}
	t.Logf("%d calls before kill -9; verify: %s", done.Load(), strings.TrimSpace(string(out)))
}

// TestAuditPostgresCountsEveryCall: with the PostgreSQL sink, the table
// holds exactly one record per call, gRPC and REST, allowed and refused.
func TestAuditPostgresCountsEveryCall(t *testing.T) {
	const dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err != nil {
		msg := "no PostgreSQL at 127.0.0.1:5432; start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	} else {
		c.Close()
	}
	table := fmt.Sprintf("e2e_audit_%d", time.Now().UnixNano())
	be := newBackend(t, "bank-backend")
	g := newGateway(t, gatewayConfig{
		routes: []route{{service: bankService, backend: be.addr}},
		extra:  fmt.Sprintf("rate_limits: {shadow: true}\naudit:\n  postgres: {dsn: %q, table: %s}\n", dsn, table),
	})
	c := bankv1.NewBankServiceClient(dial(t, g.grpcAddr))
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS(t, "")}, Timeout: 5 * time.Second}
	calls := 0
	for i := range 30 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if i%3 == 0 {
			_, _ = c.GetAccount(ctx, &bankv1.GetAccountRequest{Name: "accounts/alice-checking"}) // refused: no credentials
		} else {
			_, _ = c.Ping(ctx, &bankv1.PingRequest{})
		}
		cancel()
		calls++
		if resp, err := httpc.Get("https://" + g.httpAddr + "/v1/ping"); err == nil {
			resp.Body.Close()
			calls++
		}
	}
	if code, err := g.stop(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("gateway stop = %d, %v, want a clean exit (flushes the sink)", code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgx.Connect: %v", err)
	}
	defer conn.Close(ctx)
	defer conn.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	var n int
	q := "SELECT count(*) FROM " + table + " WHERE method LIKE '/examples.bank.v1.BankService/%'"
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n != calls {
		t.Errorf("audit rows = %d, want %d (one per call)", n, calls)
	}
}
