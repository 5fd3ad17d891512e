package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// REST calls with curl over TLS (--cacert), through the gateway's REST
// front (grpc-gateway) and the same chain as gRPC.

// restStatus parses a google.rpc.Status error body.
func restStatus(t *testing.T, r httpResult) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	if err := protojson.Unmarshal(r.body, st); err != nil {
		t.Fatalf("error body %q: %v, want a google.rpc.Status", r.body, err)
	}
	return st
}

func TestRESTPing(t *testing.T) {
	g := bankEnv(t).gw
	for _, proto := range []string{"--http1.1", "--http2"} {
		t.Run(proto, func(t *testing.T) {
			r := curl(t, "https://"+g.httpAddr+"/v1/ping", proto)
			if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"status":"ok"}` {
				t.Errorf("GET /v1/ping (%s) = %v, want 200 {\"status\":\"ok\"}", proto, r)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("GET /v1/ping Content-Type = %q, want %q", got, "application/json")
			}
		})
	}
}

func TestRESTMetadataRoundTrip(t *testing.T) {
	g := bankEnv(t).gw
	r := curl(t, "https://"+g.httpAddr+"/v1/ping", "--http1.1",
		"-H", "Grpc-Metadata-X-Echo-Header: hello", "-H", "Grpc-Metadata-X-Echo-Trailer: bye", "-H", "TE: trailers")
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/ping = %v, want 200", r)
	}
	if got, want := r.header.Get("Grpc-Metadata-X-Echo-Header"), "hello"; got != want {
		t.Errorf("GET /v1/ping header Grpc-Metadata-X-Echo-Header = %q, want %q (headers: %v)", got, want, r.header)
	}
	// Response trailers travel as HTTP trailers (announced in Trailer) with
	// the same Grpc-Metadata- prefix; curl reports them with the headers.
	if got, want := r.header.Get("Trailer"), "Grpc-Metadata-X-Echo-Trailer"; got != want {
		t.Errorf("GET /v1/ping header Trailer = %q, want %q (headers: %v)", got, want, r.header)
	}
	if got, want := r.header.Get("Grpc-Metadata-X-Echo-Trailer"), "bye"; got != want {
		t.Errorf("GET /v1/ping trailer Grpc-Metadata-X-Echo-Trailer = %q, want %q (headers: %v)", got, want, r.header)
	}
	if got := r.header.Get("X-Request-Id"); got == "" {
		t.Errorf("GET /v1/ping header X-Request-Id = %q, want a request id (headers: %v)", got, r.header)
	}
}

func TestRESTErrors(t *testing.T) {
	top := bankEnv(t)
	base := "https://" + top.gw.httpAddr
	transfer := base + "/v1/accounts/alice-checking/transfers"
	tests := []struct {
		name     string
		url      string
		args     []string
		wantHTTP int
		wantCode codes.Code
		wantMsg  string // empty: not checked
		plain    bool   // the body is not a google.rpc.Status: net/http answers before the gateway
	}{
		{"unknown route", base + "/v1/nope", nil, http.StatusNotFound, codes.NotFound, "", false},
		{"path outside the template", base + "/v1/accounts/alice/checking", nil, http.StatusNotFound, codes.NotFound, "", false},
		{"protected GET", base + "/v1/accounts/alice-checking", nil, http.StatusUnauthorized, codes.Unauthenticated, "missing or invalid credentials", false},
		{"protected POST", transfer, []string{"-X", "POST", "-H", "Content-Type: application/json", "--data", `{"amountCents": "1", "currency": "EUR"}`},
			http.StatusUnauthorized, codes.Unauthenticated, "missing or invalid credentials", false},
		{"unknown JSON field", transfer, []string{"-X", "POST", "-H", "Content-Type: application/json", "--data", `{"amountCents": "1", "bogus": true}`},
			http.StatusBadRequest, codes.InvalidArgument, "", false},
		{"malformed JSON", transfer, []string{"-X", "POST", "-H", "Content-Type: application/json", "--data", `{"amountCents": `},
			http.StatusBadRequest, codes.InvalidArgument, "", false},
		{"bad query parameter", base + "/v1/accounts?page_size=ten", nil, http.StatusBadRequest, codes.InvalidArgument, "", false},
		{name: "bad path parameter", url: base + "/v1/customers/%zz/accounts", args: []string{"--http1.1"}, wantHTTP: http.StatusBadRequest, plain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := curl(t, tt.url, tt.args...)
			if r.status != tt.wantHTTP {
				t.Errorf("%s = %v, want HTTP %d", tt.url, r, tt.wantHTTP)
			}
			if tt.plain {
				return
			}
			st := restStatus(t, r)
			if codes.Code(st.GetCode()) != tt.wantCode || (tt.wantMsg != "" && st.GetMessage() != tt.wantMsg) {
				t.Errorf("%s body = %v, want code %d (%v) message %q", tt.url, st, tt.wantCode, tt.wantCode, tt.wantMsg)
			}
		})
	}
	for _, m := range []string{"GetAccount", "ListAccounts", "CreateTransfer"} {
		if n := top.backend.countLogs("grpc.method", "/examples.bank.v1.BankService/"+m); n != 0 {
			t.Errorf("bank-backend log lines for %s = %d, want 0 (never forwarded)", m, n)
		}
	}
}

func TestRESTStatusFromBackend(t *testing.T) {
	g := interopEnv(t).gw
	for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
		t.Run(code.String(), func(t *testing.T) {
			msg := fmt.Sprintf("backend says %v", code)
			r := curl(t, "https://"+g.httpAddr+"/v1/ping", "-H", "Grpc-Metadata-X-E2e-Status: "+strconv.Itoa(int(code))+":"+msg)
			if want := runtime.HTTPStatusFromCode(code); r.status != want {
				t.Errorf("GET /v1/ping (backend %v) = %v, want HTTP %d", code, r, want)
			}
			if st := restStatus(t, r); codes.Code(st.GetCode()) != code || st.GetMessage() != msg {
				t.Errorf("GET /v1/ping (backend %v) body = %v, want code %d message %q", code, st, code, msg)
			}
		})
	}
}

func TestRESTStatusDetails(t *testing.T) {
	g := interopEnv(t).gw
	r := curl(t, "https://"+g.httpAddr+"/v1/ping", "-H", "Grpc-Metadata-X-E2e-Details: 1")
	if r.status != http.StatusBadRequest {
		t.Errorf("GET /v1/ping (x-e2e-details) = %v, want HTTP 400", r)
	}
	st := restStatus(t, r)
	if len(st.GetDetails()) != 1 {
		t.Fatalf("GET /v1/ping (x-e2e-details) details = %v, want [%v]", st.GetDetails(), wantBadRequest)
	}
	got := &errdetails.BadRequest{}
	if err := st.GetDetails()[0].UnmarshalTo(got); err != nil || !proto.Equal(got, wantBadRequest) {
		t.Errorf("GET /v1/ping (x-e2e-details) detail = %v, %v, want %v", st.GetDetails()[0], err, wantBadRequest)
	}
	// The JSON spelling clients see.
	var raw struct {
		Details []map[string]any `json:"details"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw.Details) != 1 || raw.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
		t.Errorf("GET /v1/ping (x-e2e-details) body = %s, want one detail of @type type.googleapis.com/google.rpc.BadRequest", r.body)
	}
}

func TestRESTDeadline(t *testing.T) {
	g := interopEnv(t).gw
	tests := []struct {
		name     string
		args     []string
		min, max int64 // x-e2e-timeout-ms the backend saw
	}{
		{"Grpc-Timeout header", []string{"-H", "Grpc-Timeout: 2S"}, 1000, 2000},
		{"route default", nil, 28000, 30000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := curl(t, "https://"+g.httpAddr+"/v1/ping", tt.args...)
			v := r.header.Get("Grpc-Metadata-X-E2e-Timeout-Ms")
			ms, err := strconv.ParseInt(v, 10, 64)
			if r.status != http.StatusOK || err != nil || ms < tt.min || ms > tt.max {
				t.Errorf("GET /v1/ping %v = %v, backend x-e2e-timeout-ms %q, want 200 and %d to %d", tt.args, r, v, tt.min, tt.max)
			}
		})
	}
}
