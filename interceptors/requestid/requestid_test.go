package requestid_test

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/requestid"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
	clientTP    = "00-" + clientTrace + "-" + clientSpan + "-01"
	clientTP00  = "00-" + clientTrace + "-" + clientSpan + "-00"
	clientTS    = "congo=t61rcWkgMzE"
)

var (
	generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanID      = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// want describes the expected outcome for one incoming metadata set.
type want struct {
	requestID  string // "" means generated
	continued  bool   // the client's traceparent passed on unchanged
	started    bool   // a new trace (WithStartTraces)
	flags      string // of a new trace
	traceState string
}

var cases = []struct {
	name string
	md   metadata.MD
	opts []requestid.Option
	want want
}{
	{name: "no metadata", want: want{}},
	{name: "no metadata, start traces", opts: []requestid.Option{requestid.WithStartTraces(false)}, want: want{started: true, flags: "00"}},
	{name: "no metadata, start sampled", opts: []requestid.Option{requestid.WithStartTraces(true)}, want: want{started: true, flags: "01"}},
	{name: "sampled then not", opts: []requestid.Option{requestid.WithStartTraces(true), requestid.WithStartTraces(false)}, want: want{started: true, flags: "00"}},
	{name: "valid id", md: metadata.Pairs("x-request-id", "req-42_A.b"), want: want{requestID: "req-42_A.b"}},
	{name: "id 128 chars", md: metadata.Pairs("x-request-id", strings.Repeat("a", 128)), want: want{requestID: strings.Repeat("a", 128)}},
	{name: "id 129 chars", md: metadata.Pairs("x-request-id", strings.Repeat("a", 129)), want: want{}},
	{name: "id with space", md: metadata.Pairs("x-request-id", "req 42"), want: want{}},
	{name: "id with slash", md: metadata.Pairs("x-request-id", "../etc"), want: want{}},
	{name: "id empty", md: metadata.Pairs("x-request-id", ""), want: want{}},
	{name: "id twice", md: metadata.Pairs("x-request-id", "a", "x-request-id", "b"), want: want{}},
	{
		name: "valid traceparent and tracestate",
		md:   metadata.Pairs("traceparent", clientTP, "tracestate", clientTS),
		want: want{continued: true, traceState: clientTS},
	},
	{
		name: "start traces keeps the client's",
		md:   metadata.Pairs("traceparent", clientTP00),
		opts: []requestid.Option{requestid.WithStartTraces(true)},
		want: want{continued: true},
	},
	{
		name: "tracestate joined",
		md:   metadata.Pairs("traceparent", clientTP, "tracestate", clientTS, "tracestate", "rojo=1"),
		want: want{continued: true, traceState: clientTS + ",rojo=1"},
	},
	{
		name: "tracestate too long",
		md:   metadata.Pairs("traceparent", clientTP, "tracestate", strings.Repeat("a", 513)),
		want: want{continued: true},
	},
	{name: "traceparent upper-case", md: metadata.Pairs("traceparent", strings.ToUpper(clientTP), "tracestate", clientTS), want: want{}},
	{name: "traceparent version 01", md: metadata.Pairs("traceparent", "01"+clientTP[2:], "tracestate", clientTS), want: want{}},
	{name: "traceparent zero trace", md: metadata.Pairs("traceparent", "00-"+strings.Repeat("0", 32)+"-"+clientSpan+"-01"), want: want{}},
	{name: "traceparent zero span", md: metadata.Pairs("traceparent", "00-"+clientTrace+"-"+strings.Repeat("0", 16)+"-01"), want: want{}},
	{name: "traceparent twice", md: metadata.Pairs("traceparent", clientTP, "traceparent", clientTP), want: want{}},
	{name: "traceparent garbage", md: metadata.Pairs("traceparent", "hello", "tracestate", clientTS), want: want{}},
	{name: "traceparent garbage, start traces", md: metadata.Pairs("traceparent", "hello", "tracestate", clientTS),
		opts: []requestid.Option{requestid.WithStartTraces(false)}, want: want{started: true, flags: "00"}},
	{name: "tracestate without traceparent", md: metadata.Pairs("tracestate", clientTS), want: want{}},
	{
		name: "all valid",
		md:   metadata.Pairs("x-request-id", "abc", "traceparent", clientTP, "tracestate", clientTS, "authorization", "Bearer x"),
		want: want{requestID: "abc", continued: true, traceState: clientTS},
	},
}

// check verifies info, the handler's incoming metadata and the response
// header against w, given the client's metadata in.
func check(t *testing.T, call string, in metadata.MD, w want, info requestid.Info, ok bool, handlerMD, header metadata.MD) {
	t.Helper()
	if !ok {
		t.Fatalf("requestid.FromContext(%s) ok = false, want true", call)
	}
	if w.requestID != "" {
		if info.RequestID != w.requestID {
			t.Errorf("%s RequestID = %q, want %q", call, info.RequestID, w.requestID)
		}
	} else if !generatedID.MatchString(info.RequestID) {
		t.Errorf("%s RequestID = %q, want 32 hex digits", call, info.RequestID)
	}
	switch {
	case w.continued:
		// Passed on unchanged: the client's span stays the parent.
		if tp := in.Get("traceparent")[0]; info.TraceParent != tp || info.TraceID != clientTrace || info.ParentSpanID != clientSpan || info.SpanID != "" {
			t.Errorf("%s TraceParent, TraceID, ParentSpanID, SpanID = %q, %q, %q, %q, want %q unchanged, %q, %q, \"\"",
				call, info.TraceParent, info.TraceID, info.ParentSpanID, info.SpanID, tp, clientTrace, clientSpan)
		}
	case w.started:
		if !generatedID.MatchString(info.TraceID) || info.TraceID == clientTrace || info.ParentSpanID != "" {
			t.Errorf("%s TraceID, ParentSpanID = %q, %q, want a new trace id and \"\"", call, info.TraceID, info.ParentSpanID)
		}
		if !spanID.MatchString(info.SpanID) || info.SpanID == clientSpan {
			t.Errorf("%s SpanID = %q, want a new span id", call, info.SpanID)
		}
		if tp := "00-" + info.TraceID + "-" + info.SpanID + "-" + w.flags; info.TraceParent != tp {
			t.Errorf("%s TraceParent = %q, want %q", call, info.TraceParent, tp)
		}
	default:
		if info.TraceParent != "" || info.TraceID != "" || info.SpanID != "" || info.ParentSpanID != "" {
			t.Errorf("%s trace context = %+v, want none", call, info)
		}
	}
	if info.TraceState != w.traceState {
		t.Errorf("%s TraceState = %q, want %q", call, info.TraceState, w.traceState)
	}

	// Incoming metadata of the handler: replaced keys, everything else kept.
	wantMD := in.Copy()
	if wantMD == nil {
		wantMD = metadata.MD{}
	}
	wantMD.Set("x-request-id", info.RequestID)
	wantMD.Delete("traceparent")
	if info.TraceParent != "" {
		wantMD.Set("traceparent", info.TraceParent)
	}
	wantMD.Delete("tracestate")
	if w.traceState != "" {
		wantMD.Set("tracestate", w.traceState)
	}
	for k, v := range wantMD {
		if got := handlerMD.Get(k); strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("%s incoming metadata[%q] = %q, want %q", call, k, got, v)
		}
	}
	if _, ok := handlerMD["traceparent"]; ok && info.TraceParent == "" {
		t.Errorf("%s incoming metadata[traceparent] = %q, want absent", call, handlerMD["traceparent"])
	}
	if _, ok := handlerMD["tracestate"]; ok && w.traceState == "" {
		t.Errorf("%s incoming metadata[tracestate] = %q, want absent", call, handlerMD["tracestate"])
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != info.RequestID {
		t.Errorf("%s response header x-request-id = %q, want [%q]", call, got, info.RequestID)
	}
}

func incoming(t *testing.T, md metadata.MD) context.Context {
	ctx := testContext(t)
	if md != nil {
		ctx = metadata.NewIncomingContext(ctx, md.Copy())
	}
	return ctx
}

func TestUnaryServerInterceptor(t *testing.T) {
	const method = "/bank.v1.Bank/Transfer"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, ts := grpctest.WithTransportStream(incoming(t, tc.md), method)
			var (
				info      requestid.Info
				ok        bool
				handlerMD metadata.MD
			)
			intercept := requestid.UnaryServerInterceptor(tc.opts...)
			resp, err := intercept(ctx, "req", &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, req any) (any, error) {
				info, ok = requestid.FromContext(ctx)
				handlerMD, _ = metadata.FromIncomingContext(ctx)
				return "resp", nil
			})
			if err != nil || resp != "resp" {
				t.Fatalf("UnaryServerInterceptor(%v) = %v, %v, want resp, nil", tc.md, resp, err)
			}
			check(t, "UnaryServerInterceptor", tc.md, tc.want, info, ok, handlerMD, ts.Header())
			// The caller's metadata is untouched.
			if got, _ := metadata.FromIncomingContext(ctx); !equalMD(got, tc.md) {
				t.Errorf("caller metadata after UnaryServerInterceptor = %v, want %v", got, tc.md)
			}
		})
	}
}

func TestStreamServerInterceptor(t *testing.T) {
	const method = "/bank.v1.Bank/Watch"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ss := grpctest.NewStream(incoming(t, tc.md))
			var (
				info      requestid.Info
				ok        bool
				handlerMD metadata.MD
			)
			intercept := requestid.StreamServerInterceptor(tc.opts...)
			err := intercept(nil, ss, &grpc.StreamServerInfo{FullMethod: method}, func(_ any, s grpc.ServerStream) error {
				info, ok = requestid.FromContext(s.Context())
				handlerMD, _ = metadata.FromIncomingContext(s.Context())
				return status.Error(codes.NotFound, "nope")
			})
			if status.Code(err) != codes.NotFound {
				t.Fatalf("StreamServerInterceptor(%v) = %v, want %v", tc.md, err, codes.NotFound)
			}
			check(t, "StreamServerInterceptor", tc.md, tc.want, info, ok, handlerMD, ss.Header())
			if got, _ := metadata.FromIncomingContext(ss.Context()); !equalMD(got, tc.md) {
				t.Errorf("caller metadata after StreamServerInterceptor = %v, want %v", got, tc.md)
			}
		})
	}
}

func TestFromContextEmpty(t *testing.T) {
	if info, ok := requestid.FromContext(testContext(t)); ok {
		t.Errorf("requestid.FromContext(empty) = %v, true, want false", info)
	}
}

// TestUniqueIDs checks that concurrent calls get distinct ids.
func TestUniqueIDs(t *testing.T) {
	intercept := requestid.StreamServerInterceptor(requestid.WithStartTraces(false))
	var mu sync.Mutex
	seen := make(map[string]bool)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				_ = intercept(nil, grpctest.NewStream(testContext(t)), &grpc.StreamServerInfo{}, func(_ any, s grpc.ServerStream) error {
					info, _ := requestid.FromContext(s.Context())
					mu.Lock()
					defer mu.Unlock()
					for _, id := range []string{info.RequestID, info.TraceID, info.SpanID} {
						if seen[id] {
							t.Errorf("StreamServerInterceptor() repeated id %q", id)
						}
						seen[id] = true
					}
					return nil
				})
			}
		})
	}
	wg.Wait()
}

// TestServer runs both interceptors in a real grpc.Server over bufconn
// across every RPC kind, with and without client values, and on failure.
func TestServer(t *testing.T) {
	type seen struct {
		info requestid.Info
		ok   bool
		md   metadata.MD
	}
	var (
		mu   sync.Mutex
		last seen
		fail bool
	)
	srv := grpctest.Start(t, func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		last.info, last.ok = requestid.FromContext(ctx)
		last.md, _ = metadata.FromIncomingContext(ctx)
		if fail {
			return status.Error(codes.FailedPrecondition, "no")
		}
		return nil
	},
		grpc.ChainUnaryInterceptor(requestid.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(requestid.StreamServerInterceptor()),
	)
	for _, tc := range []struct {
		name string
		md   metadata.MD
		fail bool
		want want
	}{
		{name: "none", want: want{}},
		{name: "client values", md: metadata.Pairs("x-request-id", "abc", "traceparent", clientTP, "tracestate", clientTS), want: want{requestID: "abc", continued: true, traceState: clientTS}},
		{name: "invalid values", md: metadata.Pairs("x-request-id", "a b", "traceparent", "00-x", "tracestate", clientTS), want: want{}},
		{name: "failing call", md: metadata.Pairs("x-request-id", "abc"), fail: true, want: want{requestID: "abc"}},
	} {
		for _, c := range grpctest.Calls() {
			t.Run(tc.name+"/"+c.Name, func(t *testing.T) {
				mu.Lock()
				fail, last = tc.fail, seen{}
				mu.Unlock()
				ctx := testContext(t)
				if tc.md != nil {
					ctx = metadata.NewOutgoingContext(ctx, tc.md)
				}
				var header metadata.MD
				err := c.Invoke(ctx, srv.Client, grpc.Header(&header))
				wantCode := codes.OK
				if tc.fail {
					wantCode = codes.FailedPrecondition
				}
				if status.Code(err) != wantCode {
					t.Fatalf("%s(%v) = %v, want %v", c.Method, tc.md, err, wantCode)
				}
				mu.Lock()
				got := last
				mu.Unlock()
				check(t, c.Method, tc.md, tc.want, got.info, got.ok, got.md, header)
			})
		}
	}
}

func equalMD(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "|") != strings.Join(b[k], "|") {
			return false
		}
	}
	return true
}

func BenchmarkStreamServerInterceptor(b *testing.B) {
	intercept := requestid.StreamServerInterceptor()
	handler := func(any, grpc.ServerStream) error { return nil }
	info := &grpc.StreamServerInfo{FullMethod: "/bank.v1.Bank/Transfer"}
	for _, bc := range []struct {
		name string
		md   metadata.MD
	}{
		{name: "new", md: metadata.Pairs("authorization", "Bearer x", "user-agent", "grpc-go")},
		{name: "continued", md: metadata.Pairs("authorization", "Bearer x", "user-agent", "grpc-go",
			"x-request-id", "abc", "traceparent", clientTP, "tracestate", clientTS)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ss := &benchStream{ctx: metadata.NewIncomingContext(context.Background(), bc.md)}
			b.ReportAllocs()
			for b.Loop() {
				_ = intercept(nil, ss, info, handler)
			}
		})
	}
}

// benchStream is a grpc.ServerStream whose SetHeader costs nothing, so that
// the benchmark measures the interceptor alone.
type benchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *benchStream) Context() context.Context    { return s.ctx }
func (s *benchStream) SetHeader(metadata.MD) error { return nil }

// TestHeaderFromHandler: with WithHeaderFromHandler the client gets the
// request id exactly once, from the header the handler sends when it
// sends one, and from the interceptor when the call ends without one.
func TestHeaderFromHandler(t *testing.T) {
	handler := func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		switch method {
		case "/x.Y/Panic":
			panic("boom")
		case "/x.Y/Own":
			// A handler that sends its own header without the id: the
			// interceptor must have set it up front.
			return ss.SendHeader(metadata.MD{"x-other": {"1"}})
		}
		if method == "/x.Y/Send" {
			id, _ := requestid.ResponseHeaderValue(ss.Context())
			if err := ss.SendHeader(metadata.MD{"x-request-id": id, "x-other": {"1"}}); err != nil {
				return err
			}
			return nil
		}
		return status.Error(codes.PermissionDenied, "no")
	}
	recoverPanic := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if recover() != nil {
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(srv, ss)
	}
	srv := grpctest.Start(t, nil,
		grpc.ChainStreamInterceptor(recoverPanic, requestid.StreamServerInterceptor(requestid.WithHeaderFromHandler(func(m string) bool { return m != "/x.Y/Own" }))),
		grpc.UnknownServiceHandler(handler))
	for _, tc := range []struct {
		method string
		code   codes.Code
		other  bool
	}{
		{"/x.Y/Send", codes.OK, true},
		{"/x.Y/Refuse", codes.PermissionDenied, false},
		{"/x.Y/Own", codes.OK, true},
		{"/x.Y/Panic", codes.Internal, false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", "client-1")
			cs, err := srv.Conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, tc.method)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			err = cs.RecvMsg(new(any))
			if code := status.Code(err); tc.code == codes.OK && !errors.Is(err, io.EOF) || tc.code != codes.OK && code != tc.code {
				t.Fatalf("RecvMsg = %v, want %v", err, tc.code)
			}
			header, _ := cs.Header()
			if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "client-1" {
				t.Errorf("x-request-id = %q, want [client-1] once", got)
			}
			if got := header.Get("x-other"); tc.other != (len(got) == 1) {
				t.Errorf("x-other = %q, want it only from the handler's header", got)
			}
		})
	}
}
