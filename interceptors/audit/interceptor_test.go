package audit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/policy"
)

var t0 = time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC)

const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// selfSigned returns a certificate with a SPIFFE ID and its thumbprint.
func selfSigned(t *testing.T) (*x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://bank.example/teller")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), URIs: []*url.URL{u},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return cert, base64.RawURLEncoding.EncodeToString(sum[:])
}

var requestMethod = &policy.Method{
	FullMethod:      testpb.TestService_UnaryCall_FullMethodName,
	Permissions:     []string{"test.unary.call"},
	Audit:           policy.Audit{Level: policy.AuditRequest},
	SensitiveFields: []string{"payload.body", "orca_per_query_report.request_cost"},
}

func methodFunc(m *policy.Method) audit.Option {
	return audit.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, m != nil })
}

// TestUnaryRecord calls the unary interceptor as a function and compares
// the whole record, so that a missing or unexpected field fails.
func TestUnaryRecord(t *testing.T) {
	cert, thumb := selfSigned(t)
	req := &testpb.SimpleRequest{ResponseSize: 10, FillUsername: true,
		Payload:            &testpb.Payload{Body: []byte("4111 1111 1111 1111")},
		OrcaPerQueryReport: &testpb.TestOrcaReport{CpuUtilization: 0.25, RequestCost: map[string]float64{"db": 1.5}}}
	alice := &policy.Principal{ID: "alice", Kind: policy.KindUser, Credential: policy.CredentialJWT,
		CredentialID: "jti-1", Roles: []string{"teller"}, Tenant: "acme"}
	httpMD := metadata.Pairs("x-request-id", "req-1", "traceparent", testTraceparent,
		policy.KeyTransport, policy.TransportHTTP, policy.KeyHTTPMethod, "POST",
		policy.KeyRoute, "/v1/unary", policy.KeyClientAddr, "203.0.113.7:4711",
		policy.KeyTLSVersion, "1.3", policy.KeyClientCertSHA256, "c2hh", policy.KeyClientSPIFFE, "spiffe://x/y")
	tlsPeer := &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5555}, AuthInfo: credentials.TLSInfo{
		State: tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{cert},
			VerifiedChains: [][]*x509.Certificate{{cert}}}}}
	const reqJSON = `{"fillUsername":true,"orcaPerQueryReport":{"cpuUtilization":0.25,"requestCost":"[REDACTED]"},"payload":{"body":"[REDACTED]"},"responseSize":10}`

	for _, tc := range []struct {
		name    string
		md      metadata.MD
		peer    *peer.Peer
		trust   bool
		method  *policy.Method
		stage   func(*policy.Record) // what authn/authz/ratelimit would fill
		respond error
		want    string
	}{
		{
			name: "denied over REST", md: httpMD, trust: true, method: requestMethod,
			stage: func(r *policy.Record) {
				r.Principal = alice
				r.Decision = &policy.Decision{Allowed: false, Reason: `missing permission "test.unary.call"`,
					FailedRequirement: "permission", Required: []string{"test.unary.call"},
					Effective: []string{"test.read"}, Roles: []string{"teller", "viewer"}, BundleVersion: "v7"}
				r.Resource = "accounts/1"
				r.RateLimitKey = "principal:alice"
			},
			respond: status.Error(codes.PermissionDenied, "permission denied"),
			want: `{"client_ip":"203.0.113.7","credential":{"id":"jti-1","kind":"jwt"},
				"decision":{"allowed":false,"bundle_version":"v7","effective":["test.read"],"failed_requirement":"permission",
				"reason":"missing permission \"test.unary.call\"","required":["test.unary.call"]},
				"duration_us":1500,"http":{"method":"POST","route":"/v1/unary"},"method":"/grpc.testing.TestService/UnaryCall",
				"principal":{"id":"alice","kind":"user","roles":["teller","viewer"],"tenant":"acme"},
				"rate_limit":{"key":"principal:alice","limited":false},"request":` + reqJSON + `,
				"request_bytes":REQ,"request_id":"req-1","request_messages":1,"resource":"accounts/1",
				"response_bytes":0,"response_messages":0,"status":{"code":"PERMISSION_DENIED","message":"permission denied"},
				"time":"2026-12-01T09:30:00.123456789Z","tls":{"cert_sha256":"c2hh","mtls":true,"spiffe_id":"spiffe://x/y","version":"1.3"},
				"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","transport":"http","type":"call","v":1}`,
		},
		{
			name: "REST metadata untrusted", md: httpMD, method: requestMethod,
			stage:   func(r *policy.Record) { r.AuthnFailure = "jwt: token is expired" },
			respond: status.Error(codes.Unauthenticated, "missing or invalid credentials"),
			want: `{"authn_failure":"jwt: token is expired","client_ip":"","duration_us":1500,"method":"/grpc.testing.TestService/UnaryCall",
				"request":` + reqJSON + `,"request_bytes":REQ,"request_id":"req-1","request_messages":1,
				"response_bytes":0,"response_messages":0,"status":{"code":"UNAUTHENTICATED","message":"missing or invalid credentials"},
				"time":"2026-12-01T09:30:00.123456789Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","transport":"grpc","type":"call","v":1}`,
		},
		{
			name: "allowed over mTLS gRPC", peer: tlsPeer, method: requestMethod,
			stage: func(r *policy.Record) {
				r.Principal = &policy.Principal{ID: "spiffe://bank.example/teller", Kind: policy.KindService,
					Credential: policy.CredentialMTLS, CredentialID: thumb}
				r.Decision = &policy.Decision{Allowed: true, Reason: "all of [test.unary.call] granted (role svc)",
					Required: []string{"test.unary.call"}, Effective: []string{"test.unary.call"}, Roles: []string{"svc"},
					MatchedRoles: []string{"svc"}, Condition: "true", BundleVersion: "v7"}
				r.RateLimitKey, r.RateLimited = "credential:"+thumb, false
			},
			want: `{"client_ip":"10.1.2.3","credential":{"id":"` + thumb + `","kind":"mtls"},
				"decision":{"allowed":true,"bundle_version":"v7","condition":"true","effective":["test.unary.call"],
				"matched_roles":["svc"],"reason":"all of [test.unary.call] granted (role svc)","required":["test.unary.call"]},
				"duration_us":1500,"method":"/grpc.testing.TestService/UnaryCall",
				"principal":{"id":"spiffe://bank.example/teller","kind":"service","roles":["svc"]},
				"rate_limit":{"key":"credential:` + thumb + `","limited":false},"request":` + reqJSON + `,
				"request_bytes":REQ,"request_id":"","request_messages":1,"response_bytes":RESP,"response_messages":1,
				"status":{"code":"OK"},"time":"2026-12-01T09:30:00.123456789Z",
				"tls":{"cert_sha256":"` + thumb + `","mtls":true,"spiffe_id":"spiffe://bank.example/teller","version":"1.3"},
				"trace_id":"","transport":"grpc","type":"call","v":1}`,
		},
		{
			name: "rate limited", md: metadata.Pairs("x-request-id", "req-3"), method: requestMethod,
			stage: func(r *policy.Record) {
				r.Principal = &policy.Principal{ID: "bot", Kind: policy.KindService, Credential: policy.CredentialAPIKey,
					CredentialID: "k7f3q2m9x4wb", Roles: []string{"reporter"}}
				r.RateLimitKey, r.RateLimited = "principal:bot", true
			},
			respond: status.Error(codes.ResourceExhausted, "rate limited"),
			want: `{"client_ip":"","credential":{"id":"k7f3q2m9x4wb","kind":"api_key"},"duration_us":1500,
				"method":"/grpc.testing.TestService/UnaryCall","principal":{"id":"bot","kind":"service","roles":["reporter"]},
				"rate_limit":{"key":"principal:bot","limited":true},"request":` + reqJSON + `,"request_bytes":REQ,
				"request_id":"req-3","request_messages":1,"response_bytes":0,"response_messages":0,
				"status":{"code":"RESOURCE_EXHAUSTED","message":"rate limited"},"time":"2026-12-01T09:30:00.123456789Z",
				"trace_id":"","transport":"grpc","type":"call","v":1}`,
		},
		{
			name: "no policy (gateway-owned)", md: metadata.Pairs("x-request-id", "req-4"),
			want: `{"client_ip":"","duration_us":1500,"method":"/grpc.testing.TestService/UnaryCall","request_bytes":REQ,
				"request_id":"req-4","request_messages":1,"response_bytes":RESP,"response_messages":1,"status":{"code":"OK"},
				"time":"2026-12-01T09:30:00.123456789Z","trace_id":"","transport":"grpc","type":"call","v":1}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			l := newLogger(t, []audit.Sink{sink})
			intercept := audit.UnaryServerInterceptor(l, methodFunc(tc.method),
				audit.WithTrustInternalMetadata(tc.trust), audit.WithClock(fakeClock(t0, 1500*time.Microsecond)))
			ctx := testContext(t)
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			if tc.peer != nil {
				ctx = peer.NewContext(ctx, tc.peer)
			}
			resp := &testpb.SimpleResponse{Username: "alice"}
			info := &grpc.UnaryServerInfo{FullMethod: testpb.TestService_UnaryCall_FullMethodName}
			got, err := intercept(ctx, req, info, func(ctx context.Context, _ any) (any, error) {
				rec := policy.RecordFrom(ctx)
				if rec == nil {
					t.Fatalf("policy.RecordFrom(handler ctx) = nil, want a Record")
				}
				if tc.stage != nil {
					tc.stage(rec)
				}
				if tc.respond != nil {
					return nil, tc.respond
				}
				return resp, nil
			})
			if status.Code(err) != status.Code(tc.respond) || (err == nil && got != resp) {
				t.Fatalf("intercept() = %v, %v, want %v, %v", got, err, resp, tc.respond)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close() = %v, want nil", err)
			}
			lines := sink.Lines()
			if len(lines) != 1 {
				t.Fatalf("records = %d (%q), want 1", len(lines), lines)
			}
			checkChain(t, lines)
			want := fillSizes(tc.want, proto.Size(req), proto.Size(resp))
			compareRecord(t, lines[0], want)
		})
	}
}

// fillSizes replaces REQ and RESP in a wanted record.
func fillSizes(want string, req, resp int) string {
	return strings.NewReplacer("REQ", itoa(req), "RESP", itoa(resp)).Replace(want)
}

func itoa(n int) string { return strconv.Itoa(n) }

// compareRecord compares a record with the wanted one (without the chain
// keys, which checkChain covers), key set first.
func compareRecord(t *testing.T, line, want string) {
	t.Helper()
	got := decodeMap(t, line)
	for _, k := range []string{"seq", "prev_hash", "hash"} {
		if _, ok := got[k]; !ok {
			t.Errorf("record %s has no %q", line, k)
		}
		delete(got, k)
	}
	w := decodeMap(t, want)
	if !reflect.DeepEqual(keys(got), keys(w)) {
		t.Errorf("record keys = %v, want %v", keys(got), keys(w))
	}
	if !reflect.DeepEqual(got, w) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(w)
		t.Errorf("record =\n%s\nwant\n%s", gj, wj)
	}
}

// TestSkipAndExistingRecord: WithSkip bypasses audit; a Record already in
// the context is filled instead of a new one.
func TestSkipAndExistingRecord(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink})
	intercept := audit.UnaryServerInterceptor(l, audit.WithSkip(func(m string) bool { return m == "/skip.S/M" }))
	handler := func(ctx context.Context, _ any) (any, error) {
		if r := policy.RecordFrom(ctx); r != nil {
			r.Resource = "seen"
		}
		return &testpb.Empty{}, nil
	}
	ctx := testContext(t)
	if _, err := intercept(ctx, &testpb.Empty{}, &grpc.UnaryServerInfo{FullMethod: "/skip.S/M"}, func(ctx context.Context, _ any) (any, error) {
		if r := policy.RecordFrom(ctx); r != nil {
			t.Errorf("policy.RecordFrom(skipped call) = %v, want nil", r)
		}
		return nil, nil
	}); err != nil {
		t.Fatalf("intercept(skipped) = %v, want nil", err)
	}
	own := &policy.Record{}
	if _, err := intercept(policy.NewRecordContext(ctx, own), &testpb.Empty{}, &grpc.UnaryServerInfo{FullMethod: "/a.S/M"}, handler); err != nil {
		t.Fatalf("intercept() = %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if own.Resource != "seen" {
		t.Errorf("outer Record.Resource = %q, want %q", own.Resource, "seen")
	}
	recs := sink.Records(t)
	if len(recs) != 1 || recs[0]["method"] != "/a.S/M" || recs[0]["resource"] != "seen" {
		t.Errorf("records = %v, want one for /a.S/M with resource seen", recs)
	}
}

// TestPanicRecorded: a panicking handler's call is recorded as INTERNAL
// and the panic goes on to the recovery stage.
func TestPanicRecorded(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink})
	intercept := audit.UnaryServerInterceptor(l)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recover() = %v, want boom", r)
			}
		}()
		_, _ = intercept(testContext(t), &testpb.Empty{}, &grpc.UnaryServerInfo{FullMethod: "/a.S/Panic"},
			func(context.Context, any) (any, error) { panic("boom") })
	}()
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	recs := sink.Records(t)
	if len(recs) != 1 || recs[0]["status"].(map[string]any)["code"] != "INTERNAL" {
		t.Errorf("records = %v, want one with status INTERNAL", recs)
	}
}
