package bank

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// Fixed client-facing errors shared by several methods.
var (
	errAccountNotFound = status.Error(codes.NotFound, "account not found")
	errClosed          = status.Error(codes.Unavailable, "bank server closed")
	errWatchBehind     = status.Error(codes.ResourceExhausted, "watch fell behind")
)

// Server is an in-memory bankv1.BankServiceServer. Build it with [New] and
// serve it with [Register] or [NewGRPCServer]; calling its methods directly
// also works but skips the metadata hooks described in the package docs.
// A Server is safe for concurrent use.
type Server struct {
	bankv1.UnimplementedBankServiceServer

	opts options

	mu        sync.RWMutex
	customers map[string]bool
	accounts  map[string]*account
	names     []string            // account names, sorted
	transfers map[string]transfer // by request_id
	closed    bool

	cancelled atomic.Int64

	closeOnce  sync.Once
	stopTicker context.CancelFunc // nil without a ticker
	tickerDone chan struct{}
}

// transfer is a booked transfer remembered for idempotent retries.
type transfer struct {
	req *bankv1.CreateTransferRequest
	out *bankv1.Transfer
}

// New returns a Server seeded with the demo customers, accounts and
// transactions listed in the package docs. With [WithTickTransactions] it
// starts a goroutine that [Server.Close] stops.
func New(opts ...Option) *Server {
	s := &Server{
		opts:      evaluateOptions(opts),
		customers: make(map[string]bool),
		accounts:  make(map[string]*account),
		transfers: make(map[string]transfer),
	}
	for _, c := range seedCustomers() {
		s.customers[c] = true
	}
	for _, sa := range seedAccounts() {
		a := &account{pb: sa.account}
		want := a.pb.GetBalanceCents()
		a.pb.BalanceCents = 0
		for _, t := range sa.history {
			s.book(a, t.amount, t.description, t.iban, seedEpoch.Add(hours(t.hours)))
		}
		if a.pb.GetBalanceCents() != want {
			panic("bank: seeded history of " + a.pb.GetName() + " does not sum to its balance")
		}
		s.accounts[a.pb.GetName()] = a
		s.names = append(s.names, a.pb.GetName())
	}
	slices.Sort(s.names)
	if s.opts.tick > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopTicker, s.tickerDone = cancel, make(chan struct{})
		go s.runTicker(ctx, s.opts.tick, s.tickerDone)
	}
	return s
}

// Close stops the transaction ticker, if any, and ends every open
// WatchTransactions stream with codes.Unavailable; new watches fail the same
// way. Other methods keep working. Close is idempotent, returns once the
// ticker goroutine has exited, and always returns nil.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.stopTicker != nil {
			s.stopTicker()
			<-s.tickerDone
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closed = true
		for _, a := range s.accounts {
			for w := range a.watchers {
				delete(a.watchers, w)
				w.reason = errClosed
				close(w.ch)
			}
		}
	})
	return nil
}

// Cancelled returns how many calls ended while held by the x-bank-delay
// hook because their context ended, by client cancellation or by deadline.
// Tests use it to check that the gateway propagates cancellation.
func (s *Server) Cancelled() int64 {
	return s.cancelled.Load()
}

// Ping reports that the bank API is up with status "ok".
func (s *Server) Ping(context.Context, *bankv1.PingRequest) (*bankv1.PingResponse, error) {
	return &bankv1.PingResponse{Status: "ok"}, nil
}

// Register registers s as the examples.bank.v1.BankService on reg. Every
// method is wrapped with [EchoUnaryInterceptor] or [EchoStreamInterceptor]
// and the x-bank-delay hook, inside any interceptors of the server itself.
// Do not also install the echo interceptors on the server, or the echoed
// metadata is sent twice.
func Register(reg grpc.ServiceRegistrar, s *Server) {
	reg.RegisterService(s.serviceDesc(), s)
}

// NewGRPCServer returns a gRPC server with s registered by [Register], the
// standard health service reporting SERVING for "" and for
// examples.bank.v1.BankService, and server reflection. opts are passed to
// grpc.NewServer. The caller serves and stops it; stop watches with
// [Server.Close] before grpc.Server.GracefulStop, which waits for them.
func NewGRPCServer(s *Server, opts ...grpc.ServerOption) *grpc.Server {
	gs := grpc.NewServer(opts...)
	Register(gs, s)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(bankv1.BankService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return gs
}

// clone returns a deep copy of m, so callers never share mutable state.
func clone[M proto.Message](m M) M {
	return proto.Clone(m).(M)
}
