package signature_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the fail-closed test causes some.
	redis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start is the fixed "now" of the tests.
var start = time.Unix(1_700_000_000, 0)

// clock is a fake time source, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: start} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Test keys, one per algorithm, generated once.
var (
	keysOnce sync.Once
	edKey    ed25519.PrivateKey
	ecKey    *ecdsa.PrivateKey
	macKey   = []byte("0123456789abcdef0123456789abcdef")
)

// keySource knows "ed", "ec" and "mac".
func keySource(t testing.TB) signature.KeySource {
	t.Helper()
	keysOnce.Do(func() {
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	keys := map[string]*signature.Key{
		"ed":  {Algorithm: httpsig.Ed25519, Public: edKey.Public()},
		"ec":  {Algorithm: httpsig.ECDSAP256SHA256, Public: ecKey.Public()},
		"mac": {Algorithm: httpsig.HMACSHA256, Secret: macKey},
	}
	return signature.KeySourceFunc(func(_ context.Context, id string) (*signature.Key, bool) {
		k, ok := keys[id]
		return k, ok
	})
}

// privateKey returns the signing key of a key id.
func privateKey(t testing.TB, id string) any {
	t.Helper()
	keySource(t)
	switch id {
	case "ed":
		return edKey
	case "ec":
		return ecKey
	}
	return macKey
}

// newSigner returns a signer for key id whose clock is c.
func newSigner(t testing.TB, id string, c *clock, opts ...sign.Option) *sign.Signer {
	t.Helper()
	s, err := sign.NewHTTPSigner(id, privateKey(t, id), append([]sign.Option{sign.WithClock(c.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("sign.NewHTTPSigner(%q) = %v, want nil", id, err)
	}
	return s
}

// newVerifier returns a verifier of keySource whose clock is c.
func newVerifier(t testing.TB, c *clock, opts ...signature.Option) *signature.Verifier {
	t.Helper()
	v, err := signature.New(keySource(t), append([]signature.Option{signature.WithClock(c.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("signature.New() = %v, want nil", err)
	}
	return v
}

// clientRequest returns a request as a client builds it.
func clientRequest(t testing.TB, method, target, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatalf("http.NewRequest(%s, %s) = %v", method, target, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// received returns req as a server reads it off the wire.
func received(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("Request.Write() = %v", err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("http.ReadRequest() = %v", err)
	}
	return r
}

// outcome is what the handler behind HTTPMiddleware saw.
type outcome struct {
	code     int
	body     string // response body
	called   bool
	verified *signature.Verified
	reqBody  string // request body the handler read
}

// serve runs r through v's middleware in front of a handler that records
// what it sees.
func serve(t testing.TB, v *signature.Verifier, r *http.Request) outcome {
	t.Helper()
	var o outcome
	h := v.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.called = true
		o.verified, _ = signature.FromContext(r.Context())
		b, _ := io.ReadAll(r.Body)
		o.reqBody = string(b)
		w.WriteHeader(http.StatusOK)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	o.code, o.body = rec.Code, rec.Body.String()
	return o
}
