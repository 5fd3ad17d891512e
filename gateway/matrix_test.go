package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
)

// method is one call of the demo API, by gRPC and (when the method has an
// HTTP binding) by REST.
type method struct {
	name string
	grpc func(ctx context.Context, c bankv1.BankServiceClient) error
	rest *restCall
}

var (
	pingREST       = &restCall{method: "GET", path: "/v1/ping"}
	getAccountREST = &restCall{method: "GET", path: "/v1/" + aliceChecking}
	smallREST      = &restCall{method: "POST", path: "/v1/" + aliceChecking + "/transfers",
		body: `{"amount_cents":500,"currency":"EUR","beneficiary":{"name":"Bob","iban":"GB82WEST12345698765432"}}`}
	largeREST = &restCall{method: "POST", path: "/v1/" + aliceChecking + "/transfers",
		body: `{"amount_cents":2000000,"currency":"EUR","beneficiary":{"name":"Bob","iban":"GB82WEST12345698765432"}}`}
)

func getAccount(ctx context.Context, c bankv1.BankServiceClient) error {
	_, err := c.GetAccount(ctx, &bankv1.GetAccountRequest{Name: aliceChecking})
	return err
}

func transfer(cents int64) func(context.Context, bankv1.BankServiceClient) error {
	return func(ctx context.Context, c bankv1.BankServiceClient) error {
		_, err := c.CreateTransfer(ctx, &bankv1.CreateTransferRequest{Account: aliceChecking, AmountCents: cents, Currency: "EUR",
			Beneficiary: &bankv1.Beneficiary{Name: "Bob", Iban: "GB82WEST12345698765432"}})
		return err
	}
}

func reconcile(ctx context.Context, c bankv1.BankServiceClient) error {
	_, err := c.Reconcile(ctx, &bankv1.ReconcileRequest{Account: aliceChecking})
	return err
}

// methods lists every method of the demo API once; CreateTransfer twice,
// on either side of its 10,000.00 condition.
var methods = []method{
	{"Ping", func(ctx context.Context, c bankv1.BankServiceClient) error {
		_, err := c.Ping(ctx, &bankv1.PingRequest{})
		return err
	}, pingREST},
	{"GetAccount", getAccount, getAccountREST},
	{"ListAccounts", func(ctx context.Context, c bankv1.BankServiceClient) error {
		_, err := c.ListAccounts(ctx, &bankv1.ListAccountsRequest{})
		return err
	}, &restCall{method: "GET", path: "/v1/accounts"}},
	{"CreateTransferSmall", transfer(500), smallREST},
	{"CreateTransferLarge", transfer(2_000_000), largeREST},
	{"ListTransactions", func(ctx context.Context, c bankv1.BankServiceClient) error {
		_, err := c.ListTransactions(ctx, &bankv1.ListTransactionsRequest{Account: aliceChecking})
		return err
	}, &restCall{method: "GET", path: "/v1/" + aliceChecking + "/transactions"}},
	{"WatchTransactions", func(ctx context.Context, c bankv1.BankServiceClient) error {
		// The backend books a transaction every 50ms: an allowed watch
		// gets its first message at once, a refused one its status.
		s, err := c.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: aliceChecking})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}, &restCall{method: "GET", path: "/v1/" + aliceChecking + "/transactions:watch", stream: true}},
	{"ImportTransactions", func(ctx context.Context, c bankv1.BankServiceClient) error {
		s, err := c.ImportTransactions(ctx)
		if err != nil {
			return err
		}
		tx := &bankv1.Transaction{Account: aliceSavings, AmountCents: 100, Currency: "EUR", Description: "matrix import"}
		if err := s.Send(&bankv1.ImportTransactionsRequest{Transaction: tx}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = s.CloseAndRecv() // io.EOF from Send: the status is here
		return err
	}, nil},
	{"QuoteStream", func(ctx context.Context, c bankv1.BankServiceClient) error {
		s, err := c.QuoteStream(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&bankv1.QuoteStreamRequest{Pair: "EUR/USD"}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = s.Recv()
		_ = s.CloseSend()
		return err
	}, nil},
	{"CloseAccount", func(ctx context.Context, c bankv1.BankServiceClient) error {
		_, err := c.CloseAccount(ctx, &bankv1.CloseAccountRequest{Name: aliceChecking, Reason: "matrix"})
		return err
	}, &restCall{method: "POST", path: "/v1/" + aliceChecking + ":close", body: `{"reason":"matrix"}`}},
	{"Reconcile", reconcile, nil},
	// Unsigned: every caller is refused before authorization (signing_test.go
	// covers signed calls).
	{"AddPayee", addPayee, addPayeeREST},
}

var addPayeeREST = &restCall{method: "POST", path: "/v1/" + aliceChecking + "/payees", body: `{"display_name":"Landlord","iban":"FR7630006000011234567890189"}`}

func addPayee(ctx context.Context, c bankv1.BankServiceClient) error {
	_, err := c.AddPayee(ctx, &bankv1.AddPayeeRequest{Account: aliceChecking, DisplayName: "Landlord", Iban: "FR7630006000011234567890189"})
	return err
}

// want is the outcome of one cell: the gRPC code and, for methods with an
// HTTP binding, the REST status.
type want struct {
	code codes.Code
	http int
	msg  string // the refusal's message when it is not the code's usual one
}

var (
	allowed = want{codes.OK, http.StatusOK, ""}
	unauth  = want{codes.Unauthenticated, http.StatusUnauthorized, ""}
	denied  = want{codes.PermissionDenied, http.StatusForbidden, ""}
	// notZero: allowed, and the bank refuses to close an account whose
	// balance is not zero.
	notZero = want{codes.FailedPrecondition, http.StatusBadRequest, ""}
	// needsSig: authenticated, but the method needs a request signature.
	needsSig = want{codes.Unauthenticated, http.StatusUnauthorized, "invalid request signature"}
)

// persona is one caller of the matrix.
type persona struct {
	name string
	cred func(h *harness) cred
	want map[string]want // by method name
}

func roles(r ...string) map[string]any { return map[string]any{"roles": r} }

// personas are the demo's (cmd/portcullis/personas.go) plus the API key,
// the two certificates and the stolen bound token. Expectations follow
// bank.proto and the bundle: authentication also enforces the method's
// credential kinds, mTLS and bound-token requirements (Unauthenticated);
// authorization the permissions, scopes and condition (PermissionDenied).
// Nobody holds bank.transfers.large, so the large transfer is always
// refused (it would fail with FailedPrecondition at the bank: 20,000.00 is
// more than the balance).
var personas = []persona{
	{"anonymous", func(*harness) cred { return cred{} }, map[string]want{
		"Ping": allowed, "GetAccount": unauth, "ListAccounts": unauth, "CreateTransferSmall": unauth,
		"CreateTransferLarge": unauth, "ListTransactions": unauth, "WatchTransactions": unauth,
		"ImportTransactions": unauth, "QuoteStream": unauth, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": unauth}},
	{"teller", func(h *harness) cred { return cred{bearer: h.token("teller-1", roles("teller"))} }, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": allowed, "CreateTransferSmall": allowed,
		"CreateTransferLarge": denied, "ListTransactions": allowed, "WatchTransactions": allowed,
		"ImportTransactions": unauth, "QuoteStream": allowed, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": needsSig}},
	{"auditor", func(h *harness) cred { return cred{bearer: h.token("audrey", nil)} }, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": denied, "CreateTransferSmall": denied,
		"CreateTransferLarge": denied, "ListTransactions": allowed, "WatchTransactions": denied,
		"ImportTransactions": unauth, "QuoteStream": denied, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": needsSig}},
	{"customer", func(h *harness) cred {
		return cred{bearer: h.token("alice", map[string]any{"groups": []string{"customers"}})}
	}, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": denied, "CreateTransferSmall": denied,
		"CreateTransferLarge": denied, "ListTransactions": allowed, "WatchTransactions": denied,
		"ImportTransactions": unauth, "QuoteStream": denied, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": needsSig}},
	{"narrowed", func(h *harness) cred {
		return cred{bearer: h.token("teller-1", map[string]any{"roles": []string{"teller"}, "scope": "bank.accounts.read"})}
	}, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": denied, "CreateTransferSmall": denied,
		"CreateTransferLarge": denied, "ListTransactions": denied, "WatchTransactions": denied,
		"ImportTransactions": unauth, "QuoteStream": denied, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": needsSig}},
	{"bound", func(h *harness) cred { return cred{bearer: h.boundToken(), cert: certTeller} }, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": allowed, "CreateTransferSmall": allowed,
		"CreateTransferLarge": denied, "ListTransactions": allowed, "WatchTransactions": allowed,
		"ImportTransactions": unauth, "QuoteStream": allowed, "CloseAccount": notZero, "Reconcile": unauth, "AddPayee": needsSig}},
	{"bound-without-cert", func(h *harness) cred { return cred{bearer: h.boundToken()} }, map[string]want{
		"Ping": allowed, "GetAccount": unauth, "ListAccounts": unauth, "CreateTransferSmall": unauth,
		"CreateTransferLarge": unauth, "ListTransactions": unauth, "WatchTransactions": unauth,
		"ImportTransactions": unauth, "QuoteStream": unauth, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": unauth}},
	{"reporting-bot", func(h *harness) cred { return cred{apiKey: h.keys.reporting} }, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": denied, "CreateTransferSmall": denied,
		"CreateTransferLarge": denied, "ListTransactions": allowed, "WatchTransactions": denied,
		"ImportTransactions": unauth, "QuoteStream": denied, "CloseAccount": unauth, "Reconcile": unauth, "AddPayee": needsSig}},
	{"ledger-mtls", func(*harness) cred { return cred{cert: certLedger} }, map[string]want{
		"Ping": allowed, "GetAccount": denied, "ListAccounts": denied, "CreateTransferSmall": denied,
		"CreateTransferLarge": denied, "ListTransactions": denied, "WatchTransactions": denied,
		"ImportTransactions": allowed, "QuoteStream": denied, "CloseAccount": unauth, "Reconcile": allowed, "AddPayee": needsSig}},
	{"teller-mtls", func(*harness) cred { return cred{cert: certTeller} }, map[string]want{
		"Ping": allowed, "GetAccount": allowed, "ListAccounts": allowed, "CreateTransferSmall": allowed,
		"CreateTransferLarge": denied, "ListTransactions": allowed, "WatchTransactions": allowed,
		"ImportTransactions": denied, "QuoteStream": allowed, "CloseAccount": unauth, "Reconcile": denied, "AddPayee": needsSig}},
}

// boundToken is the demo's "bound" persona: teller and closer, bound to
// client-teller.pem (RFC 8705).
func (h *harness) boundToken() string {
	return h.token("teller-1", map[string]any{"roles": []string{"teller", "closer"}, "cnf": authntest.CNF(h.leaf(certTeller))})
}

func TestPersonaMatrix(t *testing.T) {
	h := newHarness(t)
	for _, p := range personas {
		c := p.cred(h)
		t.Run(p.name, func(t *testing.T) {
			for _, m := range methods {
				w, ok := p.want[m.name]
				if !ok {
					t.Fatalf("matrix: persona %s has no expectation for %s", p.name, m.name)
				}
				t.Run(m.name, func(t *testing.T) {
					t.Run("grpc", func(t *testing.T) {
						ctx := c.outgoing(timeout(t, callTimeout))
						err := m.grpc(ctx, h.grpcClient(c.cert))
						if w.msg != "" {
							if st := status.Convert(err); st.Code() != w.code || st.Message() != w.msg {
								t.Fatalf("%s() = %v, want %v %q", m.name, err, w.code, w.msg)
							}
							return
						}
						checkGRPC(t, m.name, err, w.code)
					})
					if m.rest == nil {
						return
					}
					t.Run("rest", func(t *testing.T) {
						got, msg, err := h.rest(timeout(t, callTimeout), c, *m.rest)
						if w.msg != "" {
							if err != nil || got != w.http || msg != w.msg {
								t.Fatalf("REST %s = %d %q, %v, want %d %q", m.rest.path, got, msg, err, w.http, w.msg)
							}
							return
						}
						checkREST(t, m.rest.path, got, msg, err, w.http)
					})
				})
			}
		})
	}
}

// checkGRPC asserts the code of a call's error and, for refusals, the
// fixed message.
func checkGRPC(t *testing.T, call string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s() = %v, want code %v", call, err, want)
	}
	checkMessage(t, call, status.Convert(err).Message(), want)
}

// checkREST asserts the HTTP status of a REST call and, for refusals, the
// fixed message of its JSON error body.
func checkREST(t *testing.T, path string, got int, msg string, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("REST %s: error %v, want status %d", path, err, want)
	}
	if got != want {
		t.Fatalf("REST %s = %d (%q), want %d", path, got, msg, want)
	}
	switch want {
	case http.StatusUnauthorized:
		checkMessage(t, "REST "+path, msg, codes.Unauthenticated)
	case http.StatusForbidden:
		checkMessage(t, "REST "+path, msg, codes.PermissionDenied)
	}
}

func checkMessage(t *testing.T, call, msg string, code codes.Code) {
	t.Helper()
	wantMsg := map[codes.Code]string{codes.Unauthenticated: msgUnauthenticated, codes.PermissionDenied: msgDenied}[code]
	if wantMsg != "" && msg != wantMsg {
		t.Errorf("%s message = %q, want %q", call, msg, wantMsg)
	}
}

// timeout returns a context that ends after d or with the test.
func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries f every 50ms until it returns nil or d has passed,
// and returns f's last error.
func eventually(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
