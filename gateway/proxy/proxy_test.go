package proxy_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip for the compression tests
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/proxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	maxMsg = 16 << 20 // message limit on every hop, so 4 MiB+ messages pass

	// behaviorKey in request metadata selects what the backend does.
	behaviorKey     = "x-behavior"
	behaviorBlock   = "block"   // wait for ctx.Done, then return its status
	behaviorDetails = "details" // fail at once with detailsStatus
)

// detailsStatus is the status (with details) the backend returns for
// behaviorDetails.
func detailsStatus() *status.Status {
	st, err := status.New(codes.InvalidArgument, "bad transfer").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "amount_cents", Description: "must be positive"}},
	})
	if err != nil {
		panic(err)
	}
	return st
}

// call is what the backend saw of one call.
type call struct {
	md          metadata.MD
	deadline    time.Time
	hasDeadline bool
	compressor  string // the request's grpc-encoding
}

// backend is a TestService that records what it sees. Each method sets
// header "x-backend-header" and trailer "x-backend-trailer".
type backend struct {
	testpb.UnimplementedTestServiceServer

	mu    sync.Mutex
	calls []call

	started chan struct{} // one send per blocking call, once it blocks
	done    chan error    // one send per blocking call: the ctx error it saw
	sent    atomic.Int64  // StreamingOutputCall messages sent
}

func newBackend() *backend {
	return &backend{started: make(chan struct{}, 16), done: make(chan error, 16)}
}

func (b *backend) record(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	c := call{md: md}
	c.deadline, c.hasDeadline = ctx.Deadline()
	if s, ok := grpc.ServerTransportStreamFromContext(ctx).(interface{ RecvCompress() string }); ok {
		c.compressor = s.RecvCompress()
	}
	b.mu.Lock()
	b.calls = append(b.calls, c)
	b.mu.Unlock()
	if v := md.Get(behaviorKey); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (b *backend) lastCall(t *testing.T) call {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.calls) == 0 {
		t.Fatal("backend saw no call")
	}
	return b.calls[len(b.calls)-1]
}

// behave runs the shared behaviours; it returns done=false for "normal".
func (b *backend) behave(ctx context.Context, behavior string) (bool, error) {
	switch behavior {
	case behaviorDetails:
		return true, detailsStatus().Err()
	case behaviorBlock:
		b.started <- struct{}{}
		<-ctx.Done()
		b.done <- ctx.Err()
		return true, status.FromContextError(ctx.Err()).Err()
	}
	return false, nil
}

func (b *backend) meta(ctx context.Context) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-backend-header", "h"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-backend-trailer", "t"))
}

func (b *backend) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	b.record(ctx)
	return &testpb.Empty{}, nil
}

// UnaryCall echoes the request payload.
func (b *backend) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	b.meta(ctx)
	if done, err := b.behave(ctx, b.record(ctx)); done {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// StreamingOutputCall sends one message per response parameter.
func (b *backend) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	b.meta(ctx)
	behavior := b.record(ctx)
	for _, p := range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
		b.sent.Add(1)
	}
	_, err := b.behave(ctx, behavior)
	return err
}

// StreamingInputCall sums request payload sizes until the client half-closes.
func (b *backend) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	b.meta(stream.Context())
	if done, err := b.behave(stream.Context(), b.record(stream.Context())); done {
		return err
	}
	var total int32
	for {
		req, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: total})
			}
			return err
		}
		total += int32(len(req.GetPayload().GetBody()))
	}
}

// FullDuplexCall sends its header before reading anything, then answers
// every request with its response parameters until the client half-closes.
func (b *backend) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	b.meta(ctx)
	if done, err := b.behave(ctx, b.record(ctx)); done {
		return err
	}
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
				return err
			}
		}
	}
}

// env is a backend, a gateway proxying to it and a client of the gateway.
type env struct {
	backend     *backend
	backendAddr string
	gatewayAddr string
	pool        *proxy.Pool
	dials       atomic.Int32 // TCP dials from the pool
	client      testpb.TestServiceClient
	clientConn  *grpc.ClientConn
}

type envConfig struct {
	handlerOpts []proxy.Option
	poolOpts    []proxy.PoolOption
	clientOpts  []grpc.DialOption
	director    func(e *env) proxy.Director // default: pool.Conn(backend), adds x-gateway
	backendDown bool                        // point the director at a closed port
	service     testpb.TestServiceServer    // default: a recording *backend
}

func insecureCreds(proxy.Target) (credentials.TransportCredentials, error) {
	return insecure.NewCredentials(), nil
}

// listen returns a loopback listener, or the address of a closed one.
func listen(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	return lis
}

func serve(t testing.TB, srv *grpc.Server, lis net.Listener) {
	t.Helper()
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	e := &env{backend: newBackend()}

	blis := listen(t)
	e.backendAddr = blis.Addr().String()
	if cfg.backendDown {
		blis.Close()
	} else {
		bsrv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMsg))
		var svc testpb.TestServiceServer = e.backend
		if cfg.service != nil {
			svc = cfg.service
		}
		testpb.RegisterTestServiceServer(bsrv, svc)
		serve(t, bsrv, blis)
	}

	var dialer net.Dialer
	poolOpts := append([]proxy.PoolOption{
		proxy.WithTransportCredentials(insecureCreds),
		proxy.WithMaxCallRecvMsgSize(maxMsg),
		proxy.WithMaxCallSendMsgSize(maxMsg),
		proxy.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			e.dials.Add(1)
			return dialer.DialContext(ctx, "tcp", addr)
		})),
	}, cfg.poolOpts...)
	e.pool = proxy.NewPool(poolOpts...)
	t.Cleanup(func() { _ = e.pool.Close() })

	director := proxy.Director(proxy.DirectorFunc(func(ctx context.Context, _ string) (context.Context, grpc.ClientConnInterface, error) {
		cc, err := e.pool.Conn(proxy.Target{Address: e.backendAddr})
		return metadata.AppendToOutgoingContext(ctx, "x-gateway", "portcullis"), cc, err
	}))
	if cfg.director != nil {
		director = cfg.director(e)
	}
	gsrv := grpc.NewServer(
		grpc.ForceServerCodecV2(proxy.Codec{}),
		grpc.UnknownServiceHandler(proxy.Handler(director, cfg.handlerOpts...)),
		grpc.MaxRecvMsgSize(maxMsg),
	)
	healthpb.RegisterHealthServer(gsrv, health.NewServer()) // served by the gateway itself
	glis := listen(t)
	e.gatewayAddr = glis.Addr().String()
	serve(t, gsrv, glis)

	clientOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
	}, cfg.clientOpts...)
	cc, err := grpc.NewClient(e.gatewayAddr, clientOpts...)
	if err != nil {
		t.Fatalf("grpc.NewClient(gateway) = %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	e.clientConn = cc
	e.client = testpb.NewTestServiceClient(cc)
	return e
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
