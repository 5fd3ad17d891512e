package bank_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestPing(t *testing.T) {
	f := start(t)
	resp, err := f.client.Ping(testContext(t), &bankv1.PingRequest{})
	if err != nil || resp.GetStatus() != "ok" {
		t.Fatalf("Ping() = %v, %v, want status ok, nil", resp, err)
	}
}

func TestGetAccount(t *testing.T) {
	f := start(t)
	tests := []struct {
		name    string
		account string
		want    *bankv1.Account
		code    codes.Code
		msg     string
	}{
		{
			name:    "alice checking",
			account: "accounts/alice-checking",
			want: &bankv1.Account{
				Name: "accounts/alice-checking", Customer: "customers/alice", DisplayName: "Alice Martin (checking)",
				BalanceCents: 250000, Currency: "EUR", Iban: "DE89370400440532013000", State: "open",
			},
		},
		{
			name:    "bob checking",
			account: "accounts/bob-checking",
			want: &bankv1.Account{
				Name: "accounts/bob-checking", Customer: "customers/bob", DisplayName: "Bob Jones (current account)",
				BalanceCents: 75000, Currency: "GBP", Iban: "GB82WEST12345698765432", State: "open",
			},
		},
		{name: "unknown", account: "accounts/carol-checking", code: codes.NotFound, msg: "account not found"},
		{name: "empty", account: "", code: codes.InvalidArgument},
		{name: "no id", account: "accounts/", code: codes.InvalidArgument},
		{name: "nested", account: "accounts/alice-checking/transfers/1", code: codes.InvalidArgument},
		{name: "wrong collection", account: "customers/alice", code: codes.InvalidArgument},
		{name: "upper case", account: "accounts/Alice", code: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.client.GetAccount(testContext(t), &bankv1.GetAccountRequest{Name: tt.account})
			if got := status.Code(err); got != tt.code {
				t.Fatalf("GetAccount(%q) code = %v, want %v (err %v)", tt.account, got, tt.code, err)
			}
			if tt.msg != "" && status.Convert(err).Message() != tt.msg {
				t.Errorf("GetAccount(%q) message = %q, want %q", tt.account, status.Convert(err).Message(), tt.msg)
			}
			if tt.want != nil && !proto.Equal(resp.GetAccount(), tt.want) {
				t.Errorf("GetAccount(%q) = %v, want %v", tt.account, resp.GetAccount(), tt.want)
			}
		})
	}
}

// listAll pages through ListAccounts and returns the names in order and the
// number of pages.
func listAll(t *testing.T, f *fixture, customer string, size int32) ([]string, int) {
	t.Helper()
	var names []string
	req := &bankv1.ListAccountsRequest{Customer: customer, PageSize: size}
	for pages := 1; ; pages++ {
		resp, err := f.client.ListAccounts(testContext(t), req)
		if err != nil {
			t.Fatalf("ListAccounts(%v) = %v, want nil", req, err)
		}
		for _, a := range resp.GetAccounts() {
			names = append(names, a.GetName())
		}
		if resp.GetNextPageToken() == "" {
			return names, pages
		}
		if pages > 10 {
			t.Fatalf("ListAccounts(%v): more than 10 pages", req)
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func TestListAccountsPaging(t *testing.T) {
	f := start(t)
	tests := []struct {
		customer  string
		size      int32
		want      []string
		wantPages int
	}{
		{"customers/alice", 0, []string{"accounts/alice-checking", "accounts/alice-savings"}, 1},
		{"customers/alice", 1, []string{"accounts/alice-checking", "accounts/alice-savings"}, 2},
		{"customers/alice", 2, []string{"accounts/alice-checking", "accounts/alice-savings"}, 1},
		{"customers/bob", 1, []string{"accounts/bob-checking"}, 1},
		{"", 2, []string{"accounts/alice-checking", "accounts/alice-savings", "accounts/bob-checking"}, 2},
		{"", 5000, []string{"accounts/alice-checking", "accounts/alice-savings", "accounts/bob-checking"}, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/size=%d", tt.customer, tt.size), func(t *testing.T) {
			got, pages := listAll(t, f, tt.customer, tt.size)
			if !slices.Equal(got, tt.want) || pages != tt.wantPages {
				t.Errorf("ListAccounts(%q, %d) = %v in %d pages, want %v in %d", tt.customer, tt.size, got, pages, tt.want, tt.wantPages)
			}
		})
	}
}

func TestListAccountsErrors(t *testing.T) {
	f := start(t)
	first, err := f.client.ListAccounts(testContext(t), &bankv1.ListAccountsRequest{Customer: "customers/alice", PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("ListAccounts(alice, 1) = %v, %v, want a next page token", first, err)
	}
	tests := []struct {
		name string
		req  *bankv1.ListAccountsRequest
		code codes.Code
	}{
		{"bad customer", &bankv1.ListAccountsRequest{Customer: "alice"}, codes.InvalidArgument},
		{"unknown customer", &bankv1.ListAccountsRequest{Customer: "customers/carol"}, codes.NotFound},
		{"negative page size", &bankv1.ListAccountsRequest{Customer: "customers/alice", PageSize: -1}, codes.InvalidArgument},
		{"token not base64", &bankv1.ListAccountsRequest{Customer: "customers/alice", PageToken: "%%%"}, codes.InvalidArgument},
		{"token garbage", &bankv1.ListAccountsRequest{Customer: "customers/alice", PageToken: "aGVsbG8"}, codes.InvalidArgument},
		{"token of other customer", &bankv1.ListAccountsRequest{Customer: "customers/bob", PageToken: first.GetNextPageToken()}, codes.InvalidArgument},
		{"token ok", &bankv1.ListAccountsRequest{Customer: "customers/alice", PageToken: first.GetNextPageToken()}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.ListAccounts(testContext(t), tt.req)
			if got := status.Code(err); got != tt.code {
				t.Errorf("ListAccounts(%v) code = %v, want %v (err %v)", tt.req, got, tt.code, err)
			}
		})
	}
}

func TestCloseAccount(t *testing.T) {
	f := start(t)
	ctx := testContext(t)

	_, err := f.client.CloseAccount(ctx, &bankv1.CloseAccountRequest{Name: "accounts/bob-checking", Reason: "moving"})
	if got := status.Code(err); got != codes.FailedPrecondition {
		t.Fatalf("CloseAccount(non-zero balance) code = %v, want FailedPrecondition (err %v)", got, err)
	}
	if v := preconditionViolation(t, err); v.GetType() != "BALANCE_NOT_ZERO" || v.GetSubject() != "accounts/bob-checking" {
		t.Errorf("CloseAccount(non-zero balance) violation = %v, want BALANCE_NOT_ZERO on accounts/bob-checking", v)
	}

	// Empty the account, then close it.
	if _, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
		Account: "accounts/bob-checking", AmountCents: 75000, Currency: "GBP", RequestId: "empty-bob",
	}); err != nil {
		t.Fatalf("CreateTransfer(all of bob) = %v, want nil", err)
	}
	resp, err := f.client.CloseAccount(ctx, &bankv1.CloseAccountRequest{Name: "accounts/bob-checking"})
	if err != nil || resp.GetAccount().GetState() != "closed" {
		t.Fatalf("CloseAccount(zero balance) = %v, %v, want state closed", resp, err)
	}

	tests := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"close again", func() error {
			_, err := f.client.CloseAccount(ctx, &bankv1.CloseAccountRequest{Name: "accounts/bob-checking"})
			return err
		}, codes.FailedPrecondition},
		{"transfer from closed", func() error {
			_, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{Account: "accounts/bob-checking", AmountCents: 1, Currency: "GBP"})
			return err
		}, codes.FailedPrecondition},
		{"get closed", func() error {
			_, err := f.client.GetAccount(ctx, &bankv1.GetAccountRequest{Name: "accounts/bob-checking"})
			return err
		}, codes.OK},
		{"close unknown", func() error {
			_, err := f.client.CloseAccount(ctx, &bankv1.CloseAccountRequest{Name: "accounts/nobody"})
			return err
		}, codes.NotFound},
		{"close bad name", func() error {
			_, err := f.client.CloseAccount(ctx, &bankv1.CloseAccountRequest{Name: "bob"})
			return err
		}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(tt.call()); got != tt.code {
				t.Errorf("%s: code = %v, want %v", tt.name, got, tt.code)
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	f := start(t)
	ctx := testContext(t)
	if _, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
		Account: "accounts/alice-savings", AmountCents: 999, Currency: "EUR",
	}); err != nil {
		t.Fatalf("CreateTransfer() = %v, want nil", err)
	}
	tests := []struct {
		account string
		code    codes.Code
	}{
		{"accounts/alice-checking", codes.OK},
		{"accounts/alice-savings", codes.OK},
		{"accounts/bob-checking", codes.OK},
		{"accounts/nobody", codes.NotFound},
		{"nobody", codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			resp, err := f.client.Reconcile(ctx, &bankv1.ReconcileRequest{Account: tt.account})
			if got := status.Code(err); got != tt.code {
				t.Fatalf("Reconcile(%q) code = %v, want %v (err %v)", tt.account, got, tt.code, err)
			}
			if err == nil && (!resp.GetBalanced() || resp.GetDifferenceCents() != 0) {
				t.Errorf("Reconcile(%q) = %v, want balanced, difference 0", tt.account, resp)
			}
		})
	}
}

// preconditionViolation returns the single PreconditionFailure violation in
// err's details, failing the test if there is not exactly one.
func preconditionViolation(t *testing.T, err error) *errdetails.PreconditionFailure_Violation {
	t.Helper()
	var found []*errdetails.PreconditionFailure_Violation
	for _, d := range status.Convert(err).Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			found = append(found, pf.GetViolations()...)
		}
	}
	if len(found) != 1 {
		t.Fatalf("status details of %v = %d violations, want 1", err, len(found))
	}
	return found[0]
}
