package rest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

// fuzzFront returns the REST front of the bank example, whose in-memory
// connection reaches a bank server on bufconn directly (no interceptors).
func fuzzFront(f *testing.F) http.Handler {
	f.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	b := bank.New()
	bankv1.RegisterBankServiceServer(gs, b)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
		_ = b.Close()
	})
	h, err := New(context.Background(), conn, bankv1.File_examples_bank_v1_bank_proto_policy.Services, WithMaxBodyBytes(1<<12))
	if err != nil {
		f.Fatalf("New() = %v", err)
	}
	return h
}

// fuzzServe parses raw as a server would and serves it; it reports false
// for text that net/http would not hand to a handler, or a call cut short
// by the test's own deadline (a watch stream that never ends).
func fuzzServe(t *testing.T, h http.Handler, raw string) (*httptest.ResponseRecorder, bool) {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	return rec, ctx.Err() == nil
}

// fuzzStatusOK is the fuzz targets' invariant on responses: the front
// answers with a client error or success, never a server error except
// 501 and 503, which only the backend can cause.
func fuzzStatusOK(code int) bool {
	return code < 500 || code == http.StatusNotImplemented || code == http.StatusServiceUnavailable
}

// FuzzPath sends arbitrary methods, request targets (path and query) and
// JSON bodies through the REST front. Invariants: no panic; no 5xx but 501
// and 503. Seeds are in testdata/fuzz/FuzzPath.
func FuzzPath(f *testing.F) {
	h := fuzzFront(f)
	for _, s := range [][3]string{
		{"GET", "/v1/ping", ""},
		{"GET", "/v1/accounts/alice-checking", ""},
		{"GET", "/v1/accounts?page_size=2&page_token=x", ""},
		{"GET", "/v1/customers/alice/accounts", ""},
		{"POST", "/v1/accounts/alice-checking/transfers", `{"beneficiary":{"name":"b"},"amountCents":"10","currency":"EUR"}`},
		{"POST", "/v1/accounts/alice-checking:close", `{}`},
		{"GET", "/v1/accounts/alice-checking/transactions", ""},
		{"GET", "/v1/accounts/%2e%2e/acc-1", ""},
		{"GET", "/v1/accounts/a%2Fb?x=%zz", ""},
		{"DELETE", "/v1/accounts/alice-checking", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, method, target, body string) {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: bank.example\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", method, target, len(body), body)
		rec, ok := fuzzServe(t, h, raw)
		if ok && !fuzzStatusOK(rec.Code) {
			t.Fatalf("%s %q with body %q = %d %s, want no 5xx but 501 and 503", method, target, body, rec.Code, rec.Body)
		}
	})
}

// FuzzHeaderMatcher checks headerMatcher on arbitrary header names, and
// sends each name with an arbitrary value through the REST front.
// Invariants: no panic; a forwarded key is lower case, non-empty, never an
// internal key (policy.IsInternalKey) nor one gRPC or the gateway reserves
// (isReserved); a request with the header gets no 5xx but 501 and 503.
// Seeds are in testdata/fuzz/FuzzHeaderMatcher.
func FuzzHeaderMatcher(f *testing.F) {
	h := fuzzFront(f)
	for _, s := range [][2]string{
		{"X-Request-Id", "rid-1"},
		{"Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{"X-Api-Key", "pcs_x"},
		{"Grpc-Metadata-Foo", "bar"},
		{"Grpc-Metadata-X-Portcullis-Transport", "grpc"},
		{"X-Portcullis-Client-Addr", "10.0.0.1:1"},
		{"Grpc-Metadata-Grpc-Timeout", "1S"},
		{"Grpc-Metadata-Foo-Bin", "AAEC"},
		{"Authorization", "Bearer x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		if key, ok := headerMatcher(name); ok {
			if key == "" || key != strings.ToLower(key) || policy.IsInternalKey(key) || isReserved(key) {
				t.Fatalf("headerMatcher(%q) = %q, true, want a lower-case key that is neither internal nor reserved", name, key)
			}
		}
		raw := fmt.Sprintf("GET /v1/accounts/alice-checking HTTP/1.1\r\nHost: bank.example\r\n%s: %s\r\n\r\n", name, value)
		rec, ok := fuzzServe(t, h, raw)
		if ok && !fuzzStatusOK(rec.Code) {
			t.Fatalf("GET with header %q: %q = %d %s, want no 5xx but 501 and 503", name, value, rec.Code, rec.Body)
		}
	})
}
