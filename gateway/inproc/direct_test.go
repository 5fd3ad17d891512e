package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/policy"
)

type ctxKey struct{}

// seen is what the test handler observed of one call.
type seen struct {
	method     string
	fromStream string
	md         metadata.MD
	internal   bool
	stripped   bool        // policy.IncomingStripped: the strip stage uses the metadata as it is
	policyMD   metadata.MD // policy.Incoming: what the stages read
	deadline   bool
	callerVal  any
	requests   []int // payload sizes received
}

// handler answers like a small server: it records the call, then for
// "/t/Unary" echoes the first request's size, for "/t/Stream" sends one
// response per request until the client half-closes, for "/t/Fail" fails
// with a detailed status before any header, and for "/t/Block" waits for
// the call's end.
func handler(got *seen) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		ctx := ss.Context()
		got.method, _ = grpc.Method(ctx)
		got.fromStream, _ = grpc.MethodFromServerStream(ss)
		got.md, _ = metadata.FromIncomingContext(ctx)
		got.internal = inproc.IsInternal(ctx)
		got.stripped = policy.IncomingStripped(ctx)
		got.policyMD, _ = policy.Incoming(ctx)
		_, got.deadline = ctx.Deadline()
		got.callerVal = ctx.Value(ctxKey{})
		switch got.method {
		case "/t/Fail":
			st, _ := status.New(codes.FailedPrecondition, "no").WithDetails(&errdetails.ErrorInfo{Reason: "R"})
			return st.Err()
		case "/t/Block":
			<-ctx.Done()
			return ctx.Err()
		}
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-h", "1")); err != nil {
			return err
		}
		for {
			var req testpb.SimpleRequest
			if err := ss.RecvMsg(&req); err != nil {
				if err == io.EOF {
					break
				}
				return err
			}
			got.requests = append(got.requests, len(req.GetPayload().GetBody()))
			resp := &testpb.SimpleResponse{Payload: &testpb.Payload{Body: req.GetPayload().GetBody()}}
			if err := ss.SendMsg(resp); err != nil {
				return err
			}
			if got.method == "/t/Unary" {
				break
			}
		}
		ss.SetTrailer(metadata.Pairs("x-t", "2"))
		return nil
	}
}

func body(n int) *testpb.SimpleRequest {
	return &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(strings.Repeat("b", n))}}
}

func TestDirectUnary(t *testing.T) {
	var got seen
	var order []string
	chain := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		order = append(order, "chain:"+info.FullMethod)
		if !info.IsClientStream || !info.IsServerStream {
			t.Errorf("StreamServerInfo = %+v, want a stream of unknown shape", info)
		}
		return h(srv, ss)
	}
	d := inproc.NewDirect(chain, handler(&got), proxy.Codec{}, 1<<10, 1<<10)
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "caller"), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "X-Mixed-Case", "v", "authorization", "Bearer t", "user-agent", "spoof")
	var header, trailer metadata.MD
	var resp testpb.SimpleResponse
	if err := d.Invoke(ctx, "/t/Unary", body(7), &resp, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatalf("Invoke() = %v", err)
	}
	if len(resp.GetPayload().GetBody()) != 7 {
		t.Errorf("response body = %d bytes, want 7", len(resp.GetPayload().GetBody()))
	}
	if len(order) != 1 || order[0] != "chain:/t/Unary" {
		t.Errorf("chain ran %q", order)
	}
	if got.method != "/t/Unary" || got.fromStream != "/t/Unary" {
		t.Errorf("grpc.Method = %q, MethodFromServerStream = %q", got.method, got.fromStream)
	}
	if !got.internal {
		t.Error("IsInternal = false for a direct call")
	}
	if !got.deadline {
		t.Error("the caller's deadline did not reach the handler")
	}
	if got.callerVal != nil {
		t.Errorf("the handler saw the caller's context value %v", got.callerVal)
	}
	if v := got.md["x-mixed-case"]; len(v) != 1 || v[0] != "v" {
		t.Errorf("incoming x-mixed-case = %q", v)
	}
	if v := got.md["content-type"]; len(v) != 1 || v[0] != "application/grpc" {
		t.Errorf("incoming content-type = %q, want application/grpc", v)
	}
	if v := got.md["user-agent"]; len(v) != 0 {
		t.Errorf("a reserved key from call metadata reached the handler: user-agent = %q", v)
	}
	if header.Get("x-h")[0] != "1" || trailer.Get("x-t")[0] != "2" {
		t.Errorf("header %v, trailer %v", header, trailer)
	}
}

func TestDirectErrors(t *testing.T) {
	var got seen
	d := inproc.NewDirect(nil, handler(&got), proxy.Codec{}, 1<<10, 1<<10)
	ctx := context.Background()
	var resp testpb.SimpleResponse

	err := d.Invoke(ctx, "/t/Fail", body(1), &resp)
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || st.Message() != "no" || len(st.Details()) != 1 {
		t.Errorf("failed call = %v (details %v), want the handler's status with its details", err, st.Details())
	}

	if err := d.Invoke(ctx, "/t/Unary", body(2<<10), &resp); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("request over the receive limit = %v, want ResourceExhausted", err)
	}
	if len(got.requests) != 0 {
		t.Errorf("a request over the limit was received: %v", got.requests)
	}

	for _, kv := range [][2]string{{"bad key", "v"}, {"x-ok", "new\nline"}} {
		bad := metadata.NewOutgoingContext(ctx, metadata.MD{kv[0]: {kv[1]}})
		if err := d.Invoke(bad, "/t/Unary", body(1), &resp); status.Code(err) != codes.Internal {
			t.Errorf("metadata %q: %q = %v, want Internal as grpc-go refuses it", kv[0], kv[1], err)
		}
	}
	// Binary values pass.
	bin := metadata.NewOutgoingContext(ctx, metadata.MD{"x-b-bin": {"\x00\xff"}})
	if err := d.Invoke(bin, "/t/Unary", body(1), &resp); err != nil {
		t.Errorf("binary metadata = %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Invoke(cctx, "/t/Unary", body(1), &resp); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled caller = %v, want Canceled", err)
	}

	// Cancellation while the handler runs reaches it.
	cctx, cancel = context.WithCancel(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := d.Invoke(cctx, "/t/Block", body(1), &resp); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled during the call = %v, want Canceled", err)
	}

	// A plain error from the handler is Unknown, as grpc-go's server makes it.
	plain := inproc.NewDirect(nil, func(any, grpc.ServerStream) error { return errors.New("boom") }, proxy.Codec{}, 0, 0)
	if err := plain.Invoke(ctx, "/t/X", body(1), &resp); status.Code(err) != codes.Unknown {
		t.Errorf("plain handler error = %v, want Unknown", err)
	}
	// So is a handler that answers nothing on a unary call.
	none := inproc.NewDirect(nil, func(any, grpc.ServerStream) error { return nil }, proxy.Codec{}, 0, 0)
	if err := none.Invoke(ctx, "/t/X", body(1), &resp); status.Code(err) != codes.Internal {
		t.Errorf("no response = %v, want Internal", err)
	}
}

func TestDirectStream(t *testing.T) {
	var got seen
	d := inproc.NewDirect(nil, handler(&got), proxy.Codec{}, 1<<10, 1<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs, err := d.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/t/Stream")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		if err := cs.SendMsg(body(n)); err != nil {
			t.Fatalf("SendMsg(%d) = %v", n, err)
		}
		var resp testpb.SimpleResponse
		if err := cs.RecvMsg(&resp); err != nil {
			t.Fatalf("RecvMsg after %d = %v", n, err)
		}
		if len(resp.GetPayload().GetBody()) != n {
			t.Errorf("response %d has %d bytes", n, len(resp.GetPayload().GetBody()))
		}
	}
	header, err := cs.Header()
	if err != nil || header.Get("x-h")[0] != "1" {
		t.Errorf("Header() = %v, %v", header, err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var resp testpb.SimpleResponse
	if err := cs.RecvMsg(&resp); err != io.EOF {
		t.Fatalf("RecvMsg after CloseSend = %v, want io.EOF", err)
	}
	if tr := cs.Trailer(); tr.Get("x-t")[0] != "2" {
		t.Errorf("Trailer() = %v", tr)
	}
	if len(got.requests) != 3 {
		t.Errorf("handler received %v, want three requests", got.requests)
	}

	// Trailers-only failure on a server-streaming call: SendMsg still
	// succeeds (the status comes from RecvMsg), Header is empty.
	fs, err := d.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/t/Fail")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SendMsg(body(1)); err != nil {
		t.Errorf("SendMsg on a failed server-streaming call = %v, want nil", err)
	}
	_ = fs.CloseSend()
	if h, err := fs.Header(); h != nil || err != nil {
		t.Errorf("Header() of a trailers-only call = %v, %v, want nil, nil", h, err)
	}
	if err := fs.RecvMsg(&resp); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("RecvMsg() = %v, want FailedPrecondition", err)
	}

	// The caller cancelling ends the handler.
	bctx, bcancel := context.WithCancel(ctx)
	bs, err := d.NewStream(bctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/t/Block")
	if err != nil {
		t.Fatal(err)
	}
	bcancel()
	if err := bs.RecvMsg(&resp); status.Code(err) != codes.Canceled {
		t.Errorf("RecvMsg after cancel = %v, want Canceled", err)
	}
}

func BenchmarkDirectUnary(b *testing.B) {
	var got seen
	d := inproc.NewDirect(nil, handler(&got), proxy.Codec{}, 0, 0)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer t", "x-forwarded-for", "10.0.0.1")
	req := body(16)
	b.ReportAllocs()
	for b.Loop() {
		var resp testpb.SimpleResponse
		if err := d.Invoke(ctx, "/t/Unary", req, &resp); err != nil {
			b.Fatal(err)
		}
	}
}

// A stage that sets a header (the request id) and then refuses a
// server-streaming call: grpc-go writes the header before the status, so
// Header returns it (the REST front turns it into X-Request-Id).
func TestDirectHeaderSetBeforeRefusal(t *testing.T) {
	h := func(_ any, ss grpc.ServerStream) error {
		_ = ss.SetHeader(metadata.Pairs("x-request-id", "abc"))
		return status.Error(codes.PermissionDenied, "no")
	}
	d := inproc.NewDirect(nil, h, proxy.Codec{}, 0, 0)
	cs, err := d.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, "/t/S")
	if err != nil {
		t.Fatal(err)
	}
	md, err := cs.Header()
	if err != nil || len(md.Get("x-request-id")) != 1 {
		t.Errorf("Header() = %v, %v, want the header the handler set", md, err)
	}
	if err := cs.RecvMsg(&testpb.SimpleResponse{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("RecvMsg() = %v, want PermissionDenied", err)
	}
}

// A request reader that outlives the handler (as proxy.Handler's pump may)
// gets an error, not the call's freed request buffer.
func TestDirectLateRecvAfterInvoke(t *testing.T) {
	started := make(chan struct{})
	res := make(chan error, 1)
	h := func(_ any, ss grpc.ServerStream) error {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					res <- fmt.Errorf("panic: %v", r)
				}
			}()
			<-started
			var f proxy.Frame
			res <- ss.RecvMsg(&f)
		}()
		return status.Error(codes.Unavailable, "backend ended first")
	}
	d := inproc.NewDirect(nil, h, proxy.Codec{}, 0, 0)
	if err := d.Invoke(context.Background(), "/t/U", body(64<<10), &testpb.SimpleResponse{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Invoke() = %v, want Unavailable", err)
	}
	close(started)
	if err := <-res; err == nil || strings.Contains(err.Error(), "panic") {
		t.Errorf("late RecvMsg = %v, want an error", err)
	}
}

// A client-streaming call (one response): RecvMsg returns the call's
// status after the response, and the trailer is complete, as grpc-go's.
func TestDirectClientStreamingStatus(t *testing.T) {
	h := func(_ any, ss grpc.ServerStream) error {
		var f proxy.Frame
		for ss.RecvMsg(&f) == nil {
		}
		if err := ss.SendMsg(&testpb.SimpleResponse{}); err != nil {
			return err
		}
		ss.SetTrailer(metadata.Pairs("x-t", "1"))
		return status.Error(codes.Unavailable, "audit not persisted")
	}
	d := inproc.NewDirect(nil, h, proxy.Codec{}, 0, 0)
	cs, err := d.NewStream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, "/t/C")
	if err != nil {
		t.Fatal(err)
	}
	_ = cs.SendMsg(body(1))
	_ = cs.CloseSend()
	if err := cs.RecvMsg(&testpb.SimpleResponse{}); status.Code(err) != codes.Unavailable {
		t.Errorf("RecvMsg() = %v, want the call's Unavailable", err)
	}
	if tr := cs.Trailer(); len(tr.Get("x-t")) != 1 {
		t.Errorf("Trailer() = %v, want x-t", tr)
	}

	// A second response message on such a call is refused.
	two := func(_ any, ss grpc.ServerStream) error {
		_ = ss.SendMsg(&testpb.SimpleResponse{})
		return ss.SendMsg(&testpb.SimpleResponse{})
	}
	cs, err = inproc.NewDirect(nil, two, proxy.Codec{}, 0, 0).NewStream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, "/t/C")
	if err != nil {
		t.Fatal(err)
	}
	_ = cs.CloseSend()
	if err := cs.RecvMsg(&testpb.SimpleResponse{}); status.Code(err) != codes.Internal {
		t.Errorf("RecvMsg() with two responses = %v, want Internal (cardinality)", err)
	}
}

// Oversized messages are refused where grpc-go refuses them: a request on
// receive inside the chain (so stages see and record the refusal), a
// response on the handler's send.
func TestDirectSizeLimitsInsideTheChain(t *testing.T) {
	var chainSaw error
	chain := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		chainSaw = h(srv, ss)
		return chainSaw
	}
	var sendErr error
	h := func(_ any, ss grpc.ServerStream) error {
		var f proxy.Frame
		if err := ss.RecvMsg(&f); err != nil {
			return err
		}
		sendErr = ss.SendMsg(body(4 << 10))
		return sendErr
	}
	d := inproc.NewDirect(chain, h, proxy.Codec{}, 1<<10, 1<<10)
	if err := d.Invoke(context.Background(), "/t/U", body(2<<10), &testpb.SimpleResponse{}); status.Code(err) != codes.ResourceExhausted || status.Code(chainSaw) != codes.ResourceExhausted {
		t.Errorf("oversized request: Invoke %v, chain saw %v, want ResourceExhausted from inside the chain", err, chainSaw)
	}
	if err := d.Invoke(context.Background(), "/t/U", body(1), &testpb.SimpleResponse{}); status.Code(err) != codes.ResourceExhausted || status.Code(sendErr) != codes.ResourceExhausted {
		t.Errorf("oversized response: Invoke %v, handler's SendMsg %v, want ResourceExhausted on the send", err, sendErr)
	}
}

// Calls beyond MaxConcurrentCalls wait for a slot, or their deadline.
func TestDirectConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	h := func(_ any, ss grpc.ServerStream) error {
		<-release
		return status.Error(codes.Unavailable, "released")
	}
	d := inproc.NewDirect(nil, h, proxy.Codec{}, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range inproc.MaxConcurrentCalls {
		if _, err := d.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/t/S"); err != nil {
			t.Fatal(err)
		}
	}
	short, scancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer scancel()
	if err := d.Invoke(short, "/t/U", body(1), &testpb.SimpleResponse{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call beyond the bound = %v, want DeadlineExceeded while waiting for a slot", err)
	}
	close(release)
	later, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer lcancel()
	if err := d.Invoke(later, "/t/U", body(1), &testpb.SimpleResponse{}); status.Code(err) != codes.Unavailable {
		t.Errorf("call after slots freed = %v, want the handler's Unavailable", err)
	}
}

// TestDirectMetadataMerged: metadata set with NewOutgoingContext and pairs
// appended to it under the same key (any case) all reach the handler, and
// reserved keys from either do not.
func TestDirectMetadataMerged(t *testing.T) {
	var got seen
	d := inproc.NewDirect(nil, handler(&got), proxy.Codec{}, 1<<10, 1<<10)
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.MD{"x-a": {"1"}, "grpc-timeout": {"1S"}})
	ctx = metadata.AppendToOutgoingContext(ctx, "X-A", "2", "te", "trailers")
	var resp testpb.SimpleResponse
	if err := d.Invoke(ctx, "/t/Unary", body(1), &resp); err != nil {
		t.Fatalf("Invoke() = %v", err)
	}
	if v := got.md["x-a"]; len(v) != 2 || v[0] != "1" || v[1] != "2" {
		t.Errorf("incoming x-a = %q, want [1 2]", v)
	}
	if v := got.policyMD["x-a"]; len(v) != 2 {
		t.Errorf("policy.Incoming x-a = %q, want the same two values", v)
	}
	if !got.stripped || !got.internal {
		t.Errorf("front's metadata: stripped %v, internal %v; want both (the strip stage must not copy it)", got.stripped, got.internal)
	}
	for _, k := range []string{"grpc-timeout", "te"} {
		if v, ok := got.md[k]; ok {
			t.Errorf("reserved key %s reached the handler: %q", k, v)
		}
	}
}
