package bank_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testContext returns a context that ends with the test or after 10s.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixture is a bank served by a real gRPC server on bufconn.
type fixture struct {
	bank   *bank.Server
	conn   *grpc.ClientConn
	client bankv1.BankServiceClient
}

// start serves bank.New(opts...) through NewGRPCServer and returns a client
// connected to it. Everything is stopped when the test ends.
func start(t *testing.T, opts ...bank.Option) *fixture {
	t.Helper()
	s := bank.New(opts...)
	lis := bufconn.Listen(1 << 20)
	gs := bank.NewGRPCServer(s)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient() = %v, want nil", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		_ = s.Close()
		gs.Stop()
		<-served
	})
	return &fixture{bank: s, conn: conn, client: bankv1.NewBankServiceClient(conn)}
}

// balance returns the account's balance, failing the test on error.
func (f *fixture) balance(t *testing.T, name string) int64 {
	t.Helper()
	resp, err := f.client.GetAccount(testContext(t), &bankv1.GetAccountRequest{Name: name})
	if err != nil {
		t.Fatalf("GetAccount(%q) = %v, want nil", name, err)
	}
	return resp.GetAccount().GetBalanceCents()
}

// eventually polls cond every 5ms until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
