package signature_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/policy"
)

const (
	unaryMethod = "/bank.v1.BankService/Transfer"
	authority   = "bank.example"
)

// conn is a client connection whose target gives the authority
// "bank.example"; it never connects.
func conn(t testing.TB) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+authority, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient() = %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// signedMD returns the incoming metadata of a unary call to method with
// req, signed by s, as the server sees it.
func signedMD(t testing.TB, s *sign.Signer, method string, req proto.Message) metadata.MD {
	t.Helper()
	var md metadata.MD
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		md, _ = metadata.FromOutgoingContext(ctx)
		return nil
	}
	if err := sign.UnaryClientInterceptor(s)(testContext(t), method, req, nil, conn(t), invoker); err != nil {
		t.Fatalf("UnaryClientInterceptor() = %v, want nil", err)
	}
	md = md.Copy()
	md.Set(":authority", authority)
	return md
}

// callUnary runs v's unary interceptor with md and req; it reports whether
// the handler ran, with which signature.
func callUnary(t testing.TB, v *signature.Verifier, md metadata.MD, method string, req any, rec *policy.Record) (*signature.Verified, error) {
	t.Helper()
	ctx := metadata.NewIncomingContext(testContext(t), md)
	if rec != nil {
		ctx = policy.NewRecordContext(ctx, rec)
	}
	var got *signature.Verified
	_, err := v.UnaryServerInterceptor()(ctx, req, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
		got, _ = signature.FromContext(ctx)
		if got == nil {
			t.Errorf("handler: FromContext() = nil, want the verified signature")
		}
		return nil, nil
	})
	return got, err
}

var (
	transfer = &testpb.SimpleRequest{ResponseSize: 10, Payload: &testpb.Payload{Body: []byte("to a2")}}
	other    = &testpb.SimpleRequest{ResponseSize: 99, Payload: &testpb.Payload{Body: []byte("to a3")}}
)

func TestUnaryServerInterceptorAccepts(t *testing.T) {
	for _, id := range []string{"ed", "ec", "mac"} {
		c := newClock()
		got, err := callUnary(t, newVerifier(t, c), signedMD(t, newSigner(t, id, c), unaryMethod, transfer), unaryMethod, transfer, nil)
		if err != nil || got == nil || got.KeyID != id || strings.Join(got.Components, " ") != "@path @authority x-content-digest" {
			t.Errorf("UnaryServerInterceptor(signed by %s) = %+v, %v, want the signature", id, got, err)
		}
	}
}

func TestUnaryServerInterceptorRefuses(t *testing.T) {
	tests := []struct {
		name    string
		method  string // called method, default unaryMethod
		req     any    // received request, default transfer
		advance time.Duration
		mutate  func(metadata.MD)
		why     string
	}{
		{name: "unsigned", mutate: func(md metadata.MD) { md.Delete("x-signature"); md.Delete("x-signature-input") }, why: "no signature"},
		{name: "tampered message", req: other, why: "x-content-digest: httpsig: content digest does not match"},
		{name: "other method", method: "/bank.v1.BankService/Close", why: "signature does not verify"},
		{name: "other authority", mutate: func(md metadata.MD) { md.Set(":authority", "evil.example") }, why: "signature does not verify"},
		{name: "authority other port", mutate: func(md metadata.MD) { md.Set(":authority", "bank.example:8443") }, why: "signature does not verify"},
		{name: "no digest", mutate: func(md metadata.MD) { md.Delete("x-content-digest") }, why: `component "x-content-digest"`},
		{name: "digest replaced", mutate: func(md metadata.MD) {
			md.Set("x-content-digest", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")
		}, why: "signature does not verify"},
		{name: "two signatures", mutate: func(md metadata.MD) { md.Append("x-signature", md.Get("x-signature")[0]) }, why: "2 values of x-signature"},
		{name: "reordered", mutate: func(md metadata.MD) {
			md.Set("x-signature-input", strings.Replace(md.Get("x-signature-input")[0], `"@path" "@authority"`, `"@authority" "@path"`, 1))
		}, why: "signature does not verify"},
		{name: "missing @authority", mutate: func(md metadata.MD) {
			md.Set("x-signature-input", strings.Replace(md.Get("x-signature-input")[0], ` "@authority"`, ``, 1))
		}, why: "@authority is not covered"},
		{name: "REST component", mutate: func(md metadata.MD) {
			md.Set("x-signature-input", strings.Replace(md.Get("x-signature-input")[0], `"@path"`, `"@path" "@method"`, 1))
		}, why: "@method is not part of the gRPC profile"},
		{name: "stale", advance: 6 * time.Minute, why: "ago"},
		{name: "future-dated", advance: -6 * time.Minute, why: "in the future"},
		{name: "not proto", req: struct{}{}, why: "no digestible encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			md := signedMD(t, newSigner(t, "ed", c), unaryMethod, transfer)
			if tc.mutate != nil {
				tc.mutate(md)
			}
			method, req := unaryMethod, any(transfer)
			if tc.method != "" {
				method = tc.method
			}
			if tc.req != nil {
				req = tc.req
			}
			c.Advance(tc.advance)
			rec := &policy.Record{}
			got, err := callUnary(t, newVerifier(t, c), md, method, req, rec)
			if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != "invalid request signature" || got != nil {
				t.Errorf("UnaryServerInterceptor(%s) = %+v, %v, want Unauthenticated %q", tc.name, got, err, "invalid request signature")
			}
			if !strings.Contains(rec.AuthnFailure, tc.why) {
				t.Errorf("Record.AuthnFailure = %q, want it to contain %q", rec.AuthnFailure, tc.why)
			}
		})
	}
}

func TestUnaryServerInterceptorRefusesReplay(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c)
	md := signedMD(t, newSigner(t, "mac", c), unaryMethod, transfer)
	if _, err := callUnary(t, v, md, unaryMethod, transfer, nil); err != nil {
		t.Fatalf("UnaryServerInterceptor(first) = %v, want nil", err)
	}
	c.Advance(time.Minute)
	if _, err := callUnary(t, v, md, unaryMethod, transfer, nil); status.Code(err) != codes.Unauthenticated {
		t.Errorf("UnaryServerInterceptor(replay) = %v, want Unauthenticated", err)
	}
	// After the window the signature is stale anyway.
	c.Advance(5 * time.Minute)
	if _, err := callUnary(t, v, md, unaryMethod, transfer, nil); status.Code(err) != codes.Unauthenticated {
		t.Errorf("UnaryServerInterceptor(replay after the window) = %v, want Unauthenticated", err)
	}
}

func TestUnaryServerInterceptorNotRequired(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, signature.WithRequired(func(ctx context.Context) bool {
		m, _ := grpc.Method(ctx)
		return m != "/grpc.health.v1.Health/Check"
	}))
	ctx := grpc.NewContextWithServerTransportStream(testContext(t), &grpctest.TransportStream{FullMethod: "/grpc.health.v1.Health/Check"})
	called := false
	_, err := v.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"},
		func(context.Context, any) (any, error) { called = true; return nil, nil })
	if err != nil || !called {
		t.Errorf("UnaryServerInterceptor(not required) = %v (called %v), want the handler called", err, called)
	}
}

// The gateway's proxy path: the raw first message comes from the decode
// stage, and the digest is checked before the handler runs.
func TestStreamServerInterceptorFirstMessageBytes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes proto.Message
		ok    bool
	}{
		{name: "same bytes", bytes: transfer, ok: true},
		{name: "other bytes", bytes: other, ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(tc.bytes)
			v := newVerifier(t, c, signature.WithFirstMessageBytes(func(context.Context) ([]byte, bool) { return raw, true }))
			md := signedMD(t, newSigner(t, "ed", c), unaryMethod, transfer)
			ss := grpctest.NewStream(metadata.NewIncomingContext(testContext(t), md))
			called := false
			err := v.StreamServerInterceptor()(nil, ss, &grpc.StreamServerInfo{FullMethod: unaryMethod}, func(_ any, s grpc.ServerStream) error {
				called = true
				if got, ok := signature.FromContext(s.Context()); !ok || got.KeyID != "ed" {
					t.Errorf("FromContext(stream) = %+v, want keyid ed", got)
				}
				return nil
			})
			if (err == nil) != tc.ok || called != tc.ok {
				t.Errorf("StreamServerInterceptor(%s) = %v (handler called %v), want ok %v", tc.name, err, called, tc.ok)
			}
		})
	}
}
