package rest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

// fixture serves the bank over bufconn behind the REST front and records
// the metadata of the last call; limited makes GetAccount fail with a
// rate-limit status.
type fixture struct {
	mu      sync.Mutex
	last    metadata.MD
	limited bool
	srv     *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		f.mu.Lock()
		f.last = md
		limited := f.limited
		f.mu.Unlock()
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", "rid-1", "ratelimit-limit", "10"))
		if limited {
			st, _ := status.New(codes.ResourceExhausted, "rate limit exceeded").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
			return nil, st.Err()
		}
		return h(ctx, req)
	}))
	bankv1.RegisterBankServiceServer(gs, bank.New())
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h, err := New(context.Background(), conn, bankv1.File_examples_bank_v1_bank_proto_policy.Services, WithMaxBodyBytes(1024))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// response is what do returns of a response: its body is read and closed.
type response struct {
	StatusCode int
	Header     http.Header
}

func (f *fixture) do(t *testing.T, method, path, body string, hdr map[string]string) (response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, f.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

func TestStrictJSON(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path, body string
		code                     int
		grpcCode                 codes.Code
	}{
		{"happy path", "GET", "/v1/accounts/alice-checking", "", 200, codes.OK},
		{"additional binding", "GET", "/v1/customers/alice/accounts", "", 200, codes.OK},
		{"unknown field", "POST", "/v1/accounts/alice-checking/transfers", `{"amount_cents":5,"currency":"EUR","bogus":1}`, 400, codes.InvalidArgument},
		{"malformed body", "POST", "/v1/accounts/alice-checking/transfers", `{"amount_cents":`, 400, codes.InvalidArgument},
		{"body too large", "POST", "/v1/accounts/alice-checking/transfers", `{"memo":"` + strings.Repeat("x", 2048) + `"}`, 413, codes.InvalidArgument},
		{"wrong method", "DELETE", "/v1/ping", "", 405, codes.Unimplemented},
		{"invalid UTF-8 in path", "GET", "/v1/accounts/%80", "", 400, codes.InvalidArgument},
		{"invalid UTF-8 in query", "GET", "/v1/accounts?customer=%ff", "", 400, codes.InvalidArgument},
		{"unknown route", "GET", "/v1/nope", "", 404, codes.NotFound},
		// Paths are decoded once: %2D is "-", %252D stays "%2D" (the bank
		// refuses that name); dot segments and empty segments match no route.
		{"percent-encoded unreserved", "GET", "/v1/accounts/alice%2Dchecking", "", 200, codes.OK},
		{"no double decoding", "GET", "/v1/accounts/alice%252Dchecking", "", 400, codes.InvalidArgument},
		{"dot segment", "GET", "/v1/accounts/x/../alice-checking", "", 404, codes.NotFound},
		{"empty segment", "GET", "/v1//accounts/alice-checking", "", 404, codes.NotFound},
		{"encoded slash and dots", "GET", "/v1/accounts/alice-checking%2F..%2Fbob-checking", "", 404, codes.NotFound},
		{"unknown query parameter", "GET", "/v1/accounts?bogus=1", "", 400, codes.InvalidArgument},
		{"query by proto name", "GET", "/v1/accounts?customer=customers/alice&page_size=1", "", 200, codes.OK},
		{"query by JSON name", "GET", "/v1/accounts?customer=customers/alice&pageSize=1", "", 200, codes.OK},
		{"query sets a path field", "GET", "/v1/customers/alice/accounts?customer=customers/bob", "", 400, codes.InvalidArgument},
		{"query on a body route", "POST", "/v1/accounts/alice-checking/transfers?amount_cents=5", `{"amount_cents":5,"currency":"EUR"}`, 400, codes.InvalidArgument},
		{"query into a scalar", "GET", "/v1/accounts?page_size.x=1", "", 400, codes.InvalidArgument},
		{"backend error", "GET", "/v1/accounts/nope", "", 404, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.method, tt.path, tt.body, nil)
			if resp.StatusCode != tt.code {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.code)
			}
			if tt.code != 200 {
				var st struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal([]byte(body), &st); err != nil || codes.Code(st.Code) != tt.grpcCode {
					t.Errorf("%s body = %s, want a google.rpc.Status with code %v", tt.path, body, tt.grpcCode)
				}
			}
		})
	}
}

func TestInternalHeadersStripped(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do(t, "GET", "/v1/accounts/alice-checking", "", map[string]string{
		"X-Portcullis-Transport":           "grpc",
		"X-Portcullis-Client-Addr":         "10.9.9.9:1",
		"X-Portcullis-Client-Spiffe-Id":    "spiffe://portcullis.local/user/teller",
		"Grpc-Metadata-X-Portcullis-Route": "/spoofed",
		"Grpc-Metadata-Authorization":      "Bearer spoofed",
		"Grpc-Metadata-X-Echo":             "kept",
		"X-Request-Id":                     "client-id-1",
		"Authorization":                    "Bearer real",
	})
	if resp.StatusCode != 200 {
		t.Fatalf("GET = %d %s, want 200", resp.StatusCode, body)
	}
	f.mu.Lock()
	md := f.last
	f.mu.Unlock()
	checks := map[string]string{
		policy.KeyTransport:  policy.TransportHTTP,
		policy.KeyHTTPMethod: "GET",
		policy.KeyRoute:      "/v1/{name=accounts/*}",
		"x-echo":             "kept",
		"x-request-id":       "client-id-1",
		"authorization":      "Bearer real",
	}
	for k, want := range checks {
		if got := md.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata[%s] = %v, want [%s]", k, got, want)
		}
	}
	if got := md.Get(policy.KeyClientAddr); len(got) != 1 || strings.HasPrefix(got[0], "10.9.9.9") {
		t.Errorf("metadata[%s] = %v, want the real peer", policy.KeyClientAddr, got)
	}
	if got := md.Get(policy.KeyClientSPIFFE); len(got) != 0 {
		t.Errorf("metadata[%s] = %v, want none (no client certificate)", policy.KeyClientSPIFFE, got)
	}
	if resp.Header.Get("X-Request-Id") != "rid-1" || resp.Header.Get("RateLimit-Limit") != "10" {
		t.Errorf("response headers = %v, want X-Request-Id and RateLimit-Limit as plain headers", resp.Header)
	}
	if resp.Header.Get("Grpc-Metadata-Content-Type") != "" {
		t.Errorf("response leaks Grpc-Metadata-Content-Type")
	}
}

func TestRateLimitedIs429(t *testing.T) {
	f := newFixture(t)
	f.limited = true
	resp, body := f.do(t, "GET", "/v1/accounts/alice-checking", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("GET = %d Retry-After %q %s, want 429 with Retry-After 2", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func TestHeaderMatcher(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"X-Request-Id", "x-request-id", true},
		{"Traceparent", "traceparent", true},
		{"X-Api-Key", "x-api-key", true},
		{"Grpc-Metadata-Foo", "foo", true},
		{"Grpc-Metadata-X-Portcullis-Transport", "", false},
		{"X-Portcullis-Transport", "", false},
		{"Grpc-Metadata-Grpc-Timeout", "", false},
		{"Grpc-Metadata-Bin", "", false},
		{"Grpc-Metadata-Trace-Bin", "trace-bin", true},
		{"Grpc-Metadata-X-Forwarded-For", "", false},
		{"Forwarded", "forwarded", true},
		{"Grpc-Metadata-Forwarded", "", false},
		{"Grpc-Metadata-X-Real-Ip", "", false},
		{"Cookie", "", false},
	} {
		got, ok := headerMatcher(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("headerMatcher(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestContentType(t *testing.T) {
	f := newFixture(t)
	body := `{"amount_cents":5,"currency":"EUR"}`
	for _, tt := range []struct {
		ct   string
		code int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"text/plain", 415},
		{"application/x-www-form-urlencoded", 415}, // curl -d without -H
		{"application/xml", 415},
		{"", 415},
		{"application/json;;", 415},
	} {
		t.Run(tt.ct, func(t *testing.T) {
			resp, got := f.do(t, "POST", "/v1/accounts/alice-checking/transfers", body, map[string]string{"Content-Type": tt.ct})
			if resp.StatusCode != tt.code {
				t.Fatalf("POST with Content-Type %q = %d %s, want %d", tt.ct, resp.StatusCode, got, tt.code)
			}
			if tt.code == 415 && !strings.Contains(got, `"code":3`) {
				t.Errorf("415 body = %s, want a google.rpc.Status with code 3", got)
			}
		})
	}
	// A chunked body (no Content-Length) is a body too.
	req, _ := http.NewRequestWithContext(context.Background(), "POST", f.srv.URL+"/v1/accounts/alice-checking/transfers", struct{ io.Reader }{strings.NewReader(body)})
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 || req.ContentLength != -1 && req.ContentLength != 0 {
		t.Errorf("chunked form POST = %d (Content-Length %d), want 415", resp.StatusCode, req.ContentLength)
	}
	// A request without a body needs no Content-Type.
	if resp, got := f.do(t, "GET", "/v1/accounts/alice-checking", "", map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != 200 {
		t.Errorf("GET with no body = %d %s, want 200", resp.StatusCode, got)
	}
}

func TestSanitizeForwarding(t *testing.T) {
	h := http.Header{}
	h.Add("X-Forwarded-For", "\xff, 203.0.113.5")
	h.Add("X-Forwarded-For", "198.51.100.7")
	h.Add("Forwarded", "for=\"ä\", for=203.0.113.5")
	h.Add("X-Other", "\xff")
	sanitizeForwarding(h)
	for name, want := range map[string][]string{
		"X-Forwarded-For": {"?, 203.0.113.5", "198.51.100.7"},
		"Forwarded":       {"for=\"??\", for=203.0.113.5"},
		"X-Other":         {"\xff"},
	} {
		if got := h.Values(name); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
