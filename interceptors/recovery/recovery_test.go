package recovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/recovery"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const secret = "secret-db-password-hunter2"

// logSink is a concurrency-safe buffer of JSON log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// records returns every logged record, decoded.
func (s *logSink) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(s.buf.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("json.Unmarshal(%q) = %v, want nil", line, err)
		}
		out = append(out, r)
	}
	return out
}

// counter counts calls per method; it is safe for concurrent use.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(fullMethod string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[fullMethod]++
}

func (c *counter) get(fullMethod string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[fullMethod]
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var errHandler = status.Error(codes.NotFound, "no such account")

// behaviours are what the fake handlers do.
var behaviours = []struct {
	name     string
	run      func() error // panics or returns
	wantCode codes.Code
	wantMsg  string
	panics   bool
	logged   string // substring of the logged panic value
}{
	{name: "panic string", run: func() error { panic(secret) }, wantCode: codes.Internal, wantMsg: "internal error", panics: true, logged: secret},
	{name: "panic error", run: func() error { panic(errors.New(secret)) }, wantCode: codes.Internal, wantMsg: "internal error", panics: true, logged: secret},
	{name: "panic status", run: func() error { panic(status.Error(codes.PermissionDenied, secret)) }, wantCode: codes.Internal, wantMsg: "internal error", panics: true, logged: secret},
	{name: "panic nil", run: func() error { panic(nil) }, wantCode: codes.Internal, wantMsg: "internal error", panics: true, logged: "nil"},
	{name: "nil pointer", run: func() error { var m map[string]int; m["x"] = 1; return nil }, wantCode: codes.Internal, wantMsg: "internal error", panics: true, logged: "nil map"}, //nolint:staticcheck // SA5000: the nil-map panic is the point
	{name: "ok", run: func() error { return nil }, wantCode: codes.OK},
	{name: "error passes through", run: func() error { return errHandler }, wantCode: codes.NotFound, wantMsg: "no such account"},
}

func checkRecovered(t *testing.T, call string, err error, wantCode codes.Code, wantMsg string) {
	t.Helper()
	if got := status.Code(err); got != wantCode {
		t.Fatalf("%s = %v, want code %v", call, err, wantCode)
	}
	if err == nil {
		return
	}
	msg := status.Convert(err).Message()
	if msg != wantMsg {
		t.Errorf("%s message = %q, want %q", call, msg, wantMsg)
	}
	if strings.Contains(msg, secret) {
		t.Errorf("%s message = %q, want no panic text", call, msg)
	}
}

func checkLog(t *testing.T, sink *logSink, method string, panics bool, logged string) {
	t.Helper()
	recs := sink.records(t)
	if !panics {
		if len(recs) != 0 {
			t.Errorf("log records = %v, want none", recs)
		}
		return
	}
	if len(recs) != 1 {
		t.Fatalf("log records = %d, want 1", len(recs))
	}
	r := recs[0]
	if r["level"] != "ERROR" {
		t.Errorf("log level = %v, want ERROR", r["level"])
	}
	if r["grpc.method"] != method {
		t.Errorf("log grpc.method = %v, want %v", r["grpc.method"], method)
	}
	if p := fmt.Sprint(r["panic"]); !strings.Contains(p, logged) {
		t.Errorf("log panic = %q, want it to contain %q", p, logged)
	}
	if st := fmt.Sprint(r["stack"]); !strings.Contains(st, "recovery_test") {
		t.Errorf("log stack = %q, want the panicking frames", st)
	}
}

func TestUnaryServerInterceptor(t *testing.T) {
	const method = "/bank.v1.Bank/Transfer"
	for _, tc := range behaviours {
		t.Run(tc.name, func(t *testing.T) {
			var sink logSink
			var cnt counter
			intercept := recovery.UnaryServerInterceptor(
				recovery.WithLogger(slog.New(slog.NewJSONHandler(&sink, nil))),
				recovery.WithCounter(cnt.inc),
			)
			handler := func(context.Context, any) (any, error) {
				if err := tc.run(); err != nil {
					return nil, err
				}
				return "response", nil
			}
			resp, err := intercept(testContext(t), "request", &grpc.UnaryServerInfo{FullMethod: method}, handler)
			checkRecovered(t, fmt.Sprintf("UnaryServerInterceptor(%s)", tc.name), err, tc.wantCode, tc.wantMsg)
			wantResp := any(nil)
			if tc.wantCode == codes.OK {
				wantResp = "response"
			}
			if resp != wantResp {
				t.Errorf("UnaryServerInterceptor(%s) resp = %v, want %v", tc.name, resp, wantResp)
			}
			checkLog(t, &sink, method, tc.panics, tc.logged)
			if got, want := cnt.get(method), btoi(tc.panics); got != want {
				t.Errorf("counter(%s) = %d, want %d", method, got, want)
			}
		})
	}
}

func TestStreamServerInterceptor(t *testing.T) {
	const method = "/bank.v1.Bank/Watch"
	for _, tc := range behaviours {
		t.Run(tc.name, func(t *testing.T) {
			var sink logSink
			var cnt counter
			intercept := recovery.StreamServerInterceptor(
				recovery.WithLogger(slog.New(slog.NewJSONHandler(&sink, nil))),
				recovery.WithCounter(cnt.inc),
			)
			handler := func(any, grpc.ServerStream) error { return tc.run() }
			info := &grpc.StreamServerInfo{FullMethod: method, IsClientStream: true, IsServerStream: true}
			err := intercept(nil, grpctest.NewStream(testContext(t)), info, handler)
			checkRecovered(t, fmt.Sprintf("StreamServerInterceptor(%s)", tc.name), err, tc.wantCode, tc.wantMsg)
			checkLog(t, &sink, method, tc.panics, tc.logged)
			if got, want := cnt.get(method), btoi(tc.panics); got != want {
				t.Errorf("counter(%s) = %d, want %d", method, got, want)
			}
		})
	}
}

// TestDefaultLogger checks that without WithLogger (or with a nil one) the
// panic goes to the slog.Default in effect when it happens.
func TestDefaultLogger(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []recovery.Option
	}{
		{name: "no option"},
		{name: "nil logger", opts: []recovery.Option{recovery.WithLogger(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			intercept := recovery.UnaryServerInterceptor(tc.opts...)
			var sink logSink
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewJSONHandler(&sink, nil)))
			defer slog.SetDefault(old)
			_, err := intercept(testContext(t), nil, &grpc.UnaryServerInfo{FullMethod: "/a.B/C"},
				func(context.Context, any) (any, error) { panic(secret) })
			checkRecovered(t, "UnaryServerInterceptor()", err, codes.Internal, "internal error")
			checkLog(t, &sink, "/a.B/C", true, secret)
		})
	}
}

// TestServer runs both interceptors in a real grpc.Server over bufconn and
// panics in every kind of handler.
func TestServer(t *testing.T) {
	var sink logSink
	var cnt counter
	opts := []recovery.Option{
		recovery.WithLogger(slog.New(slog.NewJSONHandler(&sink, nil))),
		recovery.WithCounter(cnt.inc),
	}
	var panicking sync.Map // full method → true
	srv := grpctest.Start(t, func(ctx context.Context) error {
		m, _ := grpc.Method(ctx)
		if _, ok := panicking.Load(m); ok {
			panic(secret)
		}
		return nil
	},
		grpc.ChainUnaryInterceptor(recovery.UnaryServerInterceptor(opts...)),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(opts...)),
	)
	for _, c := range grpctest.Calls() {
		t.Run(c.Name, func(t *testing.T) {
			ctx := testContext(t)
			if err := c.Invoke(ctx, srv.Client); err != nil {
				t.Fatalf("%s(no panic) = %v, want nil", c.Method, err)
			}
			panicking.Store(c.Method, true)
			err := c.Invoke(ctx, srv.Client)
			checkRecovered(t, c.Method, err, codes.Internal, "internal error")
			if got := cnt.get(c.Method); got != 1 {
				t.Errorf("counter(%s) = %d, want 1", c.Method, got)
			}
		})
	}
	if got, want := len(sink.records(t)), len(grpctest.Calls()); got != want {
		t.Errorf("log records = %d, want %d", got, want)
	}
	// The server survived every panic.
	panicking.Clear()
	for _, c := range grpctest.Calls() {
		if err := c.Invoke(testContext(t), srv.Client); err != nil {
			t.Errorf("%s(after panics) = %v, want nil", c.Method, err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkStreamServerInterceptor(b *testing.B) {
	intercept := recovery.StreamServerInterceptor()
	ss := grpctest.NewStream(context.Background())
	info := &grpc.StreamServerInfo{FullMethod: "/bank.v1.Bank/Watch"}
	handler := func(any, grpc.ServerStream) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = intercept(nil, ss, info, handler)
	}
}
