package backend_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	gatewayID = "portcullis-test"
	method    = "/examples.bank.v1.BankService/Transfer"
	service   = "examples.bank.v1.BankService"
)

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newVerifier builds a Verifier from cfg and closes it when the test ends.
func newVerifier(t testing.TB, cfg backend.Config, opts ...backend.Option) *backend.Verifier {
	t.Helper()
	v, err := backend.New(cfg, opts...)
	if err != nil {
		t.Fatalf("backend.New() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// staticConfig trusts gw's current key set, as a static document.
func staticConfig(gw *backendtest.Gateway) backend.Config {
	return backend.Config{Issuer: gw.Issuer(), JWKS: gw.JWKS()}
}

// incoming returns ctx with md as incoming metadata, as a server sees it.
func incoming(ctx context.Context, kv ...string) context.Context {
	return metadata.NewIncomingContext(ctx, metadata.Pairs(kv...))
}

// callUnary runs the unary interceptor of v as a plain function for a call
// of fullMethod carrying md, and returns the assertion the handler saw.
func callUnary(ctx context.Context, v *backend.Verifier, fullMethod string, kv ...string) (*backend.Assertion, error) {
	var seen *backend.Assertion
	_, err := v.UnaryServerInterceptor()(incoming(ctx, kv...), nil,
		&grpc.UnaryServerInfo{FullMethod: fullMethod},
		func(ctx context.Context, _ any) (any, error) {
			seen, _ = backend.FromContext(ctx)
			return nil, nil
		})
	return seen, err
}

// callStream runs the stream interceptor of v as a plain function.
func callStream(ctx context.Context, v *backend.Verifier, fullMethod string, kv ...string) (*backend.Assertion, error) {
	var seen *backend.Assertion
	err := v.StreamServerInterceptor()(nil, grpctest.NewStream(incoming(ctx, kv...)),
		&grpc.StreamServerInfo{FullMethod: fullMethod},
		func(_ any, ss grpc.ServerStream) error {
			seen, _ = backend.FromContext(ss.Context())
			return nil
		})
	return seen, err
}

// unsigned returns an "alg": "none" token of claims under kid: the
// classic forgery, which no JOSE library will produce.
func unsigned(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "none", "typ": backend.TokenType, "kid": kid})
	if err != nil {
		t.Fatalf("json.Marshal(header) = %v", err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("json.Marshal(claims) = %v", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "."
}

// jwksServer serves a key set over http on 127.0.0.1 and counts fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu    sync.Mutex
	doc   []byte
	live  func() []byte // when set, serves its result instead of doc
	delay time.Duration
	code  int
}

func newJWKSServer(t testing.TB, doc []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{doc: doc, code: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		doc, delay, code := s.doc, s.delay, s.code
		if s.live != nil {
			doc = s.live()
		}
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(code)
		_, _ = w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc = doc
}

// serveLive serves the result of f on every fetch, like the gateway's
// admin listener serving its signer's current set.
func (s *jwksServer) serveLive(f func() []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = f
}

func (s *jwksServer) behave(delay time.Duration, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay, s.code = delay, code
}

// clock is a fake time source, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

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

// joinSets merges JWK Set documents.
func joinSets(t testing.TB, docs ...[]byte) []byte {
	t.Helper()
	var all struct {
		Keys []json.RawMessage `json:"keys"`
	}
	for _, d := range docs {
		var s struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(d, &s); err != nil {
			t.Fatalf("json.Unmarshal(JWKS) = %v", err)
		}
		all.Keys = append(all.Keys, s.Keys...)
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatalf("json.Marshal(JWKS) = %v", err)
	}
	return b
}

// reasons is a slog.Handler that keeps the "reason" of the last record,
// to check why the interceptors refused a call. It is safe for concurrent
// use.
type reasons struct {
	mu   sync.Mutex
	last string
}

func (r *reasons) logger() *slog.Logger { return slog.New(r) }

func (r *reasons) Enabled(context.Context, slog.Level) bool { return true }

func (r *reasons) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			r.mu.Lock()
			r.last = a.Value.String()
			r.mu.Unlock()
		}
		return true
	})
	return nil
}

func (r *reasons) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *reasons) WithGroup(string) slog.Handler      { return r }

// take returns the last reason and forgets it.
func (r *reasons) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.last
	r.last = ""
	return s
}
