package bank_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// fakeTransportStream records what an interceptor sets on the stream.
type fakeTransportStream struct {
	header, trailer metadata.MD
}

func (*fakeTransportStream) Method() string { return bankv1.BankService_Ping_FullMethodName }
func (f *fakeTransportStream) SetHeader(md metadata.MD) error {
	f.header = metadata.Join(f.header, md)
	return nil
}
func (f *fakeTransportStream) SendHeader(md metadata.MD) error { return f.SetHeader(md) }
func (f *fakeTransportStream) SetTrailer(md metadata.MD) error {
	f.trailer = metadata.Join(f.trailer, md)
	return nil
}

// fakeServerStream is a grpc.ServerStream that records header and trailer.
type fakeServerStream struct {
	grpc.ServerStream
	ctx             context.Context
	header, trailer metadata.MD
}

func (f *fakeServerStream) Context() context.Context { return f.ctx }
func (f *fakeServerStream) SetHeader(md metadata.MD) error {
	f.header = metadata.Join(f.header, md)
	return nil
}
func (f *fakeServerStream) SetTrailer(md metadata.MD) { f.trailer = metadata.Join(f.trailer, md) }

var echoCases = []struct {
	name                    string
	in                      metadata.MD
	wantHeader, wantTrailer []string
}{
	{name: "none", in: metadata.Pairs("other", "x")},
	{name: "header", in: metadata.Pairs("x-echo-header", "h1"), wantHeader: []string{"h1"}},
	{name: "trailer", in: metadata.Pairs("x-echo-trailer", "t1"), wantTrailer: []string{"t1"}},
	{
		name:       "both, repeated",
		in:         metadata.Pairs("x-echo-header", "h1", "x-echo-header", "h2", "x-echo-trailer", "t1"),
		wantHeader: []string{"h1", "h2"}, wantTrailer: []string{"t1"},
	},
}

func TestEchoUnaryInterceptor(t *testing.T) {
	for _, tt := range echoCases {
		t.Run(tt.name, func(t *testing.T) {
			ts := &fakeTransportStream{}
			ctx := grpc.NewContextWithServerTransportStream(metadata.NewIncomingContext(testContext(t), tt.in), ts)
			wantErr := status.Error(codes.NotFound, "x")
			_, err := bank.EchoUnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
				return nil, wantErr
			})
			if !errors.Is(err, wantErr) {
				t.Errorf("EchoUnaryInterceptor() = %v, want the handler's %v", err, wantErr)
			}
			checkEcho(t, ts.header, ts.trailer, tt.wantHeader, tt.wantTrailer)
		})
	}
}

func TestEchoStreamInterceptor(t *testing.T) {
	for _, tt := range echoCases {
		t.Run(tt.name, func(t *testing.T) {
			ss := &fakeServerStream{ctx: metadata.NewIncomingContext(testContext(t), tt.in)}
			called := false
			err := bank.EchoStreamInterceptor()(nil, ss, &grpc.StreamServerInfo{}, func(any, grpc.ServerStream) error {
				called = true
				return nil
			})
			if err != nil || !called {
				t.Errorf("EchoStreamInterceptor() = %v, handler called %v, want nil, true", err, called)
			}
			checkEcho(t, ss.header, ss.trailer, tt.wantHeader, tt.wantTrailer)
		})
	}
}

func checkEcho(t *testing.T, header, trailer metadata.MD, wantHeader, wantTrailer []string) {
	t.Helper()
	if got := header.Get(bank.EchoHeaderKey); !slices.Equal(got, wantHeader) {
		t.Errorf("header %s = %q, want %q", bank.EchoHeaderKey, got, wantHeader)
	}
	if got := trailer.Get(bank.EchoTrailerKey); !slices.Equal(got, wantTrailer) {
		t.Errorf("trailer %s = %q, want %q", bank.EchoTrailerKey, got, wantTrailer)
	}
}

// TestEchoThroughServer checks the echo on every RPC kind, on success and
// on failure, through a real server.
func TestEchoThroughServer(t *testing.T) {
	tests := []struct {
		name string
		// call makes one call and returns its header and trailer.
		call func(ctx context.Context, f *fixture) (header, trailer metadata.MD, err error)
		code codes.Code
	}{
		{"unary", func(ctx context.Context, f *fixture) (h, tr metadata.MD, err error) {
			_, err = f.client.Ping(ctx, &bankv1.PingRequest{}, grpc.Header(&h), grpc.Trailer(&tr))
			return h, tr, err
		}, codes.OK},
		{"unary error", func(ctx context.Context, f *fixture) (h, tr metadata.MD, err error) {
			_, err = f.client.GetAccount(ctx, &bankv1.GetAccountRequest{Name: "accounts/nobody"}, grpc.Header(&h), grpc.Trailer(&tr))
			return h, tr, err
		}, codes.NotFound},
		{"server streaming", func(ctx context.Context, f *fixture) (h, tr metadata.MD, err error) {
			s, err := f.client.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: "accounts/alice-checking"})
			if err != nil {
				return nil, nil, err
			}
			if h, err = s.Header(); err != nil {
				return nil, nil, err
			}
			_ = f.bank.Close()
			_, err = s.Recv()
			return h, s.Trailer(), err
		}, codes.Unavailable},
		{"server streaming error", func(ctx context.Context, f *fixture) (h, tr metadata.MD, err error) {
			s, err := f.client.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: "accounts/nobody"})
			if err != nil {
				return nil, nil, err
			}
			_, err = s.Recv()
			h, _ = s.Header()
			return h, s.Trailer(), err
		}, codes.NotFound},
		{"client streaming", func(ctx context.Context, f *fixture) (h, tr metadata.MD, err error) {
			s, err := f.client.ImportTransactions(ctx)
			if err != nil {
				return nil, nil, err
			}
			if err := s.Send(&bankv1.ImportTransactionsRequest{}); err != nil {
				return nil, nil, err
			}
			_, err = s.CloseAndRecv()
			h, _ = s.Header()
			return h, s.Trailer(), err
		}, codes.OK},
		{"bidi streaming", func(ctx context.Context, f *fixture) (h, tr metadata.MD, err error) {
			s, err := f.client.QuoteStream(ctx)
			if err != nil {
				return nil, nil, err
			}
			if err := s.Send(&bankv1.QuoteStreamRequest{Pair: "EUR/USD"}); err != nil {
				return nil, nil, err
			}
			if _, err := s.Recv(); err != nil {
				return nil, nil, err
			}
			_ = s.CloseSend()
			if _, err = s.Recv(); errors.Is(err, io.EOF) {
				err = nil
			}
			h, _ = s.Header()
			return h, s.Trailer(), err
		}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			ctx := metadata.AppendToOutgoingContext(testContext(t),
				"x-echo-header", "hello", "x-echo-trailer", "bye", "x-unrelated", "no")
			h, tr, err := tt.call(ctx, f)
			if got := status.Code(err); got != tt.code {
				t.Fatalf("%s: code = %v, want %v (err %v)", tt.name, got, tt.code, err)
			}
			checkEcho(t, h, tr, []string{"hello"}, []string{"bye"})
			if v := h.Get("x-unrelated"); v != nil {
				t.Errorf("%s: header x-unrelated = %q, want none", tt.name, v)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	f := start(t)
	tests := []struct {
		name          string
		delay         string
		timeout       time.Duration // 0: none beyond the test's
		cancelAfter   time.Duration // 0: never
		stream        bool          // use WatchTransactions instead of Ping
		code          codes.Code
		wantCancelled int64 // f.bank.Cancelled() afterwards
	}{
		{name: "short delay completes", delay: "20ms", code: codes.OK},
		{name: "deadline during delay", delay: "250ms", timeout: 30 * time.Millisecond, code: codes.DeadlineExceeded, wantCancelled: 1},
		{name: "cancel during delay", delay: "250ms", cancelAfter: 30 * time.Millisecond, code: codes.Canceled, wantCancelled: 2},
		{name: "cancel stream during delay", delay: "250ms", cancelAfter: 30 * time.Millisecond, stream: true, code: codes.Canceled, wantCancelled: 3},
		{name: "not a duration", delay: "soon", code: codes.InvalidArgument, wantCancelled: 3},
		{name: "negative", delay: "-1s", code: codes.InvalidArgument, wantCancelled: 3},
		{name: "too long", delay: "2m", code: codes.InvalidArgument, wantCancelled: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			if tt.cancelAfter > 0 {
				time.AfterFunc(tt.cancelAfter, cancel)
			}
			ctx = metadata.AppendToOutgoingContext(ctx, bank.DelayKey, tt.delay)
			began := time.Now()
			var err error
			if tt.stream {
				var s bankv1.BankService_WatchTransactionsClient
				if s, err = f.client.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: "accounts/alice-checking"}); err == nil {
					_, err = s.Recv()
				}
			} else {
				_, err = f.client.Ping(ctx, &bankv1.PingRequest{})
			}
			if got := status.Code(err); got != tt.code {
				t.Fatalf("call with %s %q: code = %v, want %v (err %v)", bank.DelayKey, tt.delay, got, tt.code, err)
			}
			if d, _ := time.ParseDuration(tt.delay); tt.code == codes.OK && time.Since(began) < d {
				t.Errorf("call with %s %q took %v, want at least %v", bank.DelayKey, tt.delay, time.Since(began), d)
			}
			// The server sees the end of the context a moment after the client.
			eventually(t, "Cancelled() reaches its count", func() bool { return f.bank.Cancelled() == tt.wantCancelled })
		})
	}
}
