package signature_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/interceptors/signature"
)

func TestMemoryNonceCache(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, signature.WithMemoryNonceCacheSize(2))
	wire := func() []byte { // a fresh signed request, as bytes on the wire
		req := clientRequest(t, http.MethodPost, target, body)
		if err := newSigner(t, "ed", c).Sign(req); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_ = req.Write(&buf)
		return buf.Bytes()
	}
	send := func(b []byte) int {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatal(err)
		}
		return serve(t, v, r).code
	}
	a, b, third := wire(), wire(), wire()
	for _, step := range []struct {
		name string
		req  []byte
		want int
	}{
		{"a", a, http.StatusOK},
		{"b", b, http.StatusOK},
		{"a again", a, http.StatusUnauthorized},
		{"third, cache full", third, http.StatusUnauthorized},
	} {
		if got := send(step.req); got != step.want {
			t.Errorf("HTTPMiddleware(%s) = %d, want %d", step.name, got, step.want)
		}
	}
	// Once a and b can no longer be accepted, their nonces expire and make
	// room; a itself is now stale.
	c.Advance(5*time.Minute + 2*time.Second)
	fresh := wire()
	if got := send(fresh); got != http.StatusOK {
		t.Errorf("HTTPMiddleware(new request after expiry) = %d, want 200", got)
	}
	if got := send(a); got != http.StatusUnauthorized {
		t.Errorf("HTTPMiddleware(a, stale) = %d, want 401", got)
	}
}

func TestMemoryNonceCacheAdd(t *testing.T) {
	c := signature.NewMemoryNonceCache(1)
	ctx := testContext(t)
	k1, k2 := [32]byte{1}, [32]byte{2}
	if ok, err := c.Add(ctx, k1, time.Hour); !ok || err != nil {
		t.Fatalf("Add(k1) = %v, %v, want true, nil", ok, err)
	}
	if ok, err := c.Add(ctx, k1, time.Hour); ok || err != nil {
		t.Errorf("Add(k1 again) = %v, %v, want false, nil", ok, err)
	}
	if ok, err := c.Add(ctx, k2, time.Hour); ok || !errors.Is(err, signature.ErrNonceCacheFull) {
		t.Errorf("Add(k2, full) = %v, %v, want false, %v", ok, err, signature.ErrNonceCacheFull)
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1", n)
	}
}

const startRedis = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`

// sharedRedis returns a client of the test Redis (PORTCULLIS_TEST_REDIS,
// default 127.0.0.1:6379) and a fresh key prefix; it skips the test when
// Redis is unreachable, and fails it under CI=true.
func sharedRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		msg := "Redis at %s unreachable (%v); start it with: %s"
		if os.Getenv("CI") == "true" {
			t.Fatalf(msg, addr, err, startRedis)
		}
		t.Skipf(msg, addr, err, startRedis)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "portcullis:sig:test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for i := 0; i < 10_000 && iter.Next(ctx); i++ {
			client.Del(ctx, iter.Val())
		}
	})
	return client, prefix
}

// Two verifiers sharing a Redis nonce cache behave as replicas: a request
// accepted by one is a replay for the other, and of many concurrent copies
// exactly one is accepted.
func TestRedisNonceCacheSharedByReplicas(t *testing.T) {
	client, prefix := sharedRedis(t)
	c := newClock()
	replica := func() *signature.Verifier {
		return newVerifier(t, c, signature.WithNonceCache(signature.NewRedisNonceCache(client, signature.WithRedisPrefix(prefix))))
	}
	a, b := replica(), replica()
	send := func(v *signature.Verifier, wire []byte) int {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
		if err != nil {
			t.Error(err)
			return 0
		}
		return serve(t, v, r).code
	}
	sign := func() []byte {
		req := clientRequest(t, http.MethodPost, target, body)
		if err := newSigner(t, "ec", c).Sign(req); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_ = req.Write(&buf)
		return buf.Bytes()
	}
	wire := sign()
	if got := send(a, wire); got != http.StatusOK {
		t.Fatalf("replica A (first) = %d, want 200", got)
	}
	if got := send(b, wire); got != http.StatusUnauthorized {
		t.Errorf("replica B (replay of A's request) = %d, want 401", got)
	}

	race := sign()
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if send([]*signature.Verifier{a, b}[i%2], race) == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if n := ok.Load(); n != 1 {
		t.Errorf("8 concurrent copies across two replicas: %d accepted, want 1", n)
	}
}

// An unreachable Redis refuses signed calls instead of accepting them
// without replay protection.
func TestRedisNonceCacheFailsClosed(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	c := newClock()
	v := newVerifier(t, c, signature.WithNonceCache(signature.NewRedisNonceCache(client, signature.WithRedisTimeout(300*time.Millisecond))))
	if o := serve(t, v, signedPOST(t, "ed", c, nil)); o.code != http.StatusUnauthorized || o.called {
		t.Errorf("HTTPMiddleware(Redis down) = %d (handler called %v), want 401", o.code, o.called)
	}
}
