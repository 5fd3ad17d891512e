package ratelimit_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

const testMethod = "/test.v1.Svc/Do"

func limited(rl *policy.RateLimit) *policy.Method {
	return &policy.Method{FullMethod: testMethod, RateLimit: rl}
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p *policy.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

func principalFrom(ctx context.Context) (*policy.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*policy.Principal)
	return p, ok
}

func user(id string) *policy.Principal { return &policy.Principal{ID: id, Kind: policy.KindUser} }

func withPeer(ctx context.Context, addr string) context.Context {
	ap := netip.MustParseAddrPort(addr)
	return peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
}

func withMD(ctx context.Context, kv ...string) context.Context {
	return metadata.NewIncomingContext(ctx, metadata.Pairs(kv...))
}

// baseOptions wires the method and principal the way the gateway does.
func baseOptions(m *policy.Method, more ...ratelimit.Option) []ratelimit.Option {
	return append([]ratelimit.Option{
		ratelimit.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, m != nil }),
		ratelimit.WithPrincipalFunc(principalFrom),
	}, more...)
}

// keyRecorder is a Store that allows everything and records the keys.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *keyRecorder) Take(_ context.Context, key string, l ratelimit.Limit, _ int) (ratelimit.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, key)
	return ratelimit.Result{Allowed: true, Limit: l.Capacity(), Remaining: l.Capacity() - 1}, nil
}

func (r *keyRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.keys) == 0 {
		return ""
	}
	return r.keys[len(r.keys)-1]
}

// outcome of one call through an interceptor called as a function.
type outcome struct {
	called  bool
	err     error
	header  metadata.MD
	trailer metadata.MD
}

// interceptor calls one of the two interceptors as a plain function.
type interceptor struct {
	name string
	call func(ctx context.Context, s ratelimit.Store, opts []ratelimit.Option, req proto.Message) outcome
}

var interceptors = []interceptor{
	{name: "UnaryServerInterceptor", call: func(ctx context.Context, s ratelimit.Store, opts []ratelimit.Option, req proto.Message) outcome {
		var o outcome
		ts := &transportStream{}
		ctx = grpc.NewContextWithServerTransportStream(ctx, ts)
		_, o.err = ratelimit.UnaryServerInterceptor(s, opts...)(ctx, req, &grpc.UnaryServerInfo{FullMethod: testMethod},
			func(context.Context, any) (any, error) {
				o.called = true
				return "resp", nil
			})
		o.header, o.trailer = ts.metadata()
		return o
	}},
	{name: "StreamServerInterceptor", call: func(ctx context.Context, s ratelimit.Store, opts []ratelimit.Option, req proto.Message) outcome {
		var o outcome
		if req != nil {
			opts = append(opts, ratelimit.WithRequestFunc(func(context.Context) (proto.Message, bool) { return req, true }))
		}
		ss := &fakeStream{Stream: grpctest.NewStream(ctx)}
		o.err = ratelimit.StreamServerInterceptor(s, opts...)(nil, ss, &grpc.StreamServerInfo{FullMethod: testMethod},
			func(any, grpc.ServerStream) error {
				o.called = true
				return nil
			})
		o.header = ss.Header()
		ss.mu.Lock()
		o.trailer = ss.trailer
		ss.mu.Unlock()
		return o
	}},
}

// fakeStream adds trailer recording to grpctest.Stream.
type fakeStream struct {
	*grpctest.Stream
	mu      sync.Mutex
	trailer metadata.MD
}

func (s *fakeStream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
}

// transportStream is a grpc.ServerTransportStream recording header and
// trailer, so that grpc.SetHeader and grpc.SetTrailer work in a unary
// interceptor called as a function.
type transportStream struct {
	mu              sync.Mutex
	header, trailer metadata.MD
}

func (s *transportStream) Method() string { return testMethod }

func (s *transportStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *transportStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *transportStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

func (s *transportStream) metadata() (metadata.MD, metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, s.trailer
}

// keyFor returns the key an interceptor passed to the store for one call.
func keyFor(t *testing.T, ic interceptor, ctx context.Context, opts []ratelimit.Option, req proto.Message) string {
	t.Helper()
	rec := &keyRecorder{}
	if o := ic.call(ctx, rec, opts, req); o.err != nil || !o.called {
		t.Fatalf("%s() = %v (handler called %v), want nil", ic.name, o.err, o.called)
	}
	return rec.last()
}
