package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// Ping's compiled limit: 50 per second per client IP, burst 100.
const (
	pingRate     = 50
	pingCapacity = 101 // burst + 1
)

// needRedis skips (or, under CI, fails) when no Redis answers at addr.
func needRedis(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return
	}
	msg := fmt.Sprintf("no Redis at %s (%v); start one: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no", addr, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "portcullis:e2e:" + hex.EncodeToString(b[:]) + ":"
}

func redisGateway(t *testing.T, backendAddr, redisAddr, prefix, extra string) *gateway {
	t.Helper()
	return newGateway(t, gatewayConfig{
		routes: []route{{service: bankService, backend: backendAddr}},
		extra: fmt.Sprintf("rate_limits:\n  store: redis\n  redis: {address: %q, prefix: %q, timeout: 100ms}\n%s",
			redisAddr, prefix, extra),
	})
}

// TestRateLimitSharedAcrossReplicas: three gateway processes sharing one
// Redis enforce Ping's one per-IP limit together.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	needRedis(t, "127.0.0.1:6379")
	be := newBackend(t, "bank-backend")
	prefix := randomPrefix()
	var clients []bankv1.BankServiceClient
	for range 3 {
		g := redisGateway(t, be.addr, "127.0.0.1:6379", prefix, "")
		clients = append(clients, bankv1.NewBankServiceClient(dial(t, g.grpcAddr)))
	}
	var allowed, limited, other atomic.Int64
	var retryInfo, retryTrailer atomic.Bool
	start := time.Now()
	window := 1500 * time.Millisecond
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w%3]
			for time.Since(start) < window {
				var trailer metadata.MD
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Ping(ctx, &bankv1.PingRequest{}, grpc.Trailer(&trailer))
				cancel()
				switch status.Code(err) {
				case codes.OK:
					allowed.Add(1)
				case codes.ResourceExhausted:
					limited.Add(1)
					for _, d := range status.Convert(err).Details() {
						if _, ok := d.(*errdetails.RetryInfo); ok {
							retryInfo.Store(true)
						}
					}
					if len(trailer.Get("retry-after")) == 1 {
						retryTrailer.Store(true)
					}
				default:
					other.Add(1)
					t.Errorf("Ping() = %v, want OK or ResourceExhausted", err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := pingCapacity + int64(float64(pingRate)*elapsed.Seconds()+0.999)
	t.Logf("3 replicas, %v: allowed %d, limited %d, bound %d (capacity %d + %d/s), overshoot %d",
		elapsed.Round(time.Millisecond), allowed.Load(), limited.Load(), bound, pingCapacity, pingRate, allowed.Load()-bound)
	if allowed.Load() > bound {
		t.Errorf("allowed = %d, want at most %d across the three replicas", allowed.Load(), bound)
	}
	if limited.Load() == 0 || !retryInfo.Load() || !retryTrailer.Load() {
		t.Errorf("limited = %d, RetryInfo %v, retry-after trailer %v, want refusals carrying both", limited.Load(), retryInfo.Load(), retryTrailer.Load())
	}
}

// TestRateLimitRESTHeaders: a REST client over the limit gets 429 with
// Retry-After and the RateLimit-* fields.
func TestRateLimitRESTHeaders(t *testing.T) {
	be := newBackend(t, "bank-backend")
	g := newGateway(t, gatewayConfig{routes: []route{{service: bankService, backend: be.addr}}})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS(t, "")}, Timeout: 5 * time.Second}
	var last *http.Response
	for i := range 2000 { // refills at 50/s while this runs: stop at the first 429
		resp, err := client.Get("https://" + g.httpAddr + "/v1/ping")
		if err != nil {
			t.Fatalf("GET /v1/ping #%d = %v", i, err)
		}
		resp.Body.Close()
		if i == 0 && (resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != strconv.Itoa(pingCapacity)) {
			t.Errorf("first GET = %d, RateLimit-Limit %q, want 200 and %d", resp.StatusCode, resp.Header.Get("RateLimit-Limit"), pingCapacity)
		}
		last = resp
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || last.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("GET over the limit = %d, Retry-After %q, RateLimit-Remaining %q, want 429, a Retry-After and 0 remaining",
			last.StatusCode, last.Header.Get("Retry-After"), last.Header.Get("RateLimit-Remaining"))
	}
}

// TestRateLimitRedisOutage: Redis is killed under load and restarted; the
// gateway falls back to its local limit (no crash, no hanging call) and
// goes back to Redis when it returns.
func TestRateLimitRedisOutage(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not installed: %v", err)
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	lis.Close()
	startRedis := func() *exec.Cmd {
		cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("redis-server: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				return cmd
			}
			if time.Now().After(deadline) {
				t.Fatal("redis-server did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	redisProc := startRedis()
	t.Cleanup(func() { _ = redisProc.Process.Kill(); _ = redisProc.Wait() })

	be := newBackend(t, "bank-backend")
	auditDir := t.TempDir()
	g := redisGateway(t, be.addr, addr, randomPrefix(), fmt.Sprintf("audit:\n  file: {dir: %q, fsync_interval: 10ms}\n", auditDir))
	c := bankv1.NewBankServiceClient(dial(t, g.grpcAddr))
	ping := func() (codes.Code, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Ping(ctx, &bankv1.PingRequest{})
		return status.Code(err), time.Since(start)
	}
	check := func(phase string, n int) {
		for range n {
			code, took := ping()
			if code != codes.OK && code != codes.ResourceExhausted {
				t.Errorf("%s: Ping() = %v, want OK or ResourceExhausted (local fallback)", phase, code)
			}
			if took > 2*time.Second {
				t.Errorf("%s: Ping() took %v, want no hanging call", phase, took)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	check("redis up", 20)
	_ = redisProc.Process.Kill()
	_ = redisProc.Wait()
	check("redis down", 40)
	if _, err := g.waitLog(5*time.Second, "msg", "rate limits: Redis unreachable; using the fallback"); err != nil {
		t.Errorf("no degraded log line: %v", err)
	}
	redisProc = startRedis()
	// Recovery is found by probing Redis on calls, so keep calling (each
	// call still checked) until the gateway reports it, for at most 10 s.
	recovered := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		check("redis back", 10)
		if _, ok := g.findLog("msg", "rate limits: Redis is back"); ok {
			recovered = true
			break
		}
	}
	if !recovered {
		t.Errorf("no recovery log line within 10s of Redis returning; output:\n%s", g.out)
	}
	if g.exited() {
		t.Errorf("gateway exited during the outage")
	}
	// The audit records say which calls the fallback decided.
	var counted, degraded int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		counted, degraded = auditRateLimits(t, auditDir)
		if counted >= 20 && degraded > 0 {
			break
		}
	}
	if counted < 20 || degraded == 0 || degraded >= counted {
		t.Errorf("audit: %d records with a rate_limit, %d of them degraded; want some degraded (the outage) and some not", counted, degraded)
	}
	t.Logf("audit: %d rate-limited calls recorded, %d decided by the fallback", counted, degraded)
}

// auditRateLimits counts the audit records of dir that carry a rate_limit
// object, and those marked degraded.
func auditRateLimits(t *testing.T, dir string) (counted, degraded int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			var rec struct {
				RateLimit *struct {
					Degraded bool `json:"degraded"`
				} `json:"rate_limit"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil || rec.RateLimit == nil {
				continue
			}
			counted++
			if rec.RateLimit.Degraded {
				degraded++
			}
		}
	}
	return counted, degraded
}
