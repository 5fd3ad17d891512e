package bank_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// noAccount as a wanted balance means there is no account to check.
const noAccount = -1

func TestCreateTransfer(t *testing.T) {
	beneficiary := &bankv1.Beneficiary{Name: "Carol", Iban: "FR1420041010050500013M02606"}
	tests := []struct {
		name        string
		req         *bankv1.CreateTransferRequest
		code        codes.Code
		msg         string
		want        *bankv1.Transfer
		wantBalance int64 // of req.Account afterwards, or noAccount
	}{
		{
			name: "booked",
			req: &bankv1.CreateTransferRequest{
				Account: "accounts/alice-checking", Beneficiary: beneficiary, AmountCents: 1234, Currency: "EUR", Memo: "Dinner",
			},
			want: &bankv1.Transfer{
				Name: "accounts/alice-checking/transfers/1", Account: "accounts/alice-checking",
				Beneficiary: beneficiary, AmountCents: 1234, Currency: "EUR", State: "booked",
			},
			wantBalance: 250000 - 1234,
		},
		{
			name:        "whole balance",
			req:         &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: 250000, Currency: "EUR"},
			want:        &bankv1.Transfer{Name: "accounts/alice-checking/transfers/1", Account: "accounts/alice-checking", AmountCents: 250000, Currency: "EUR", State: "booked"},
			wantBalance: 0,
		},
		{
			name: "insufficient funds",
			req:  &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: 250001, Currency: "EUR"},
			code: codes.FailedPrecondition, msg: "insufficient funds", wantBalance: 250000,
		},
		{
			name: "zero amount",
			req:  &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: 0, Currency: "EUR"},
			code: codes.InvalidArgument, wantBalance: 250000,
		},
		{
			name: "negative amount",
			req:  &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: -5, Currency: "EUR"},
			code: codes.InvalidArgument, wantBalance: 250000,
		},
		{
			name: "wrong currency",
			req:  &bankv1.CreateTransferRequest{Account: "accounts/bob-checking", AmountCents: 100, Currency: "EUR"},
			code: codes.InvalidArgument, wantBalance: 75000,
		},
		{
			name: "missing currency",
			req:  &bankv1.CreateTransferRequest{Account: "accounts/bob-checking", AmountCents: 100},
			code: codes.InvalidArgument, wantBalance: 75000,
		},
		{
			name: "unknown account",
			req:  &bankv1.CreateTransferRequest{Account: "accounts/nobody", AmountCents: 100, Currency: "EUR"},
			code: codes.NotFound, msg: "account not found", wantBalance: noAccount,
		},
		{
			name: "bad account name",
			req:  &bankv1.CreateTransferRequest{Account: "alice-checking", AmountCents: 100, Currency: "EUR"},
			code: codes.InvalidArgument, wantBalance: noAccount,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			resp, err := f.client.CreateTransfer(testContext(t), tt.req)
			if got := status.Code(err); got != tt.code {
				t.Fatalf("CreateTransfer(%v) code = %v, want %v (err %v)", tt.req, got, tt.code, err)
			}
			if tt.msg != "" && status.Convert(err).Message() != tt.msg {
				t.Errorf("CreateTransfer(%v) message = %q, want %q", tt.req, status.Convert(err).Message(), tt.msg)
			}
			if tt.want != nil && !proto.Equal(resp.GetTransfer(), tt.want) {
				t.Errorf("CreateTransfer(%v) = %v, want %v", tt.req, resp.GetTransfer(), tt.want)
			}
			if tt.wantBalance != noAccount {
				if got := f.balance(t, tt.req.GetAccount()); got != tt.wantBalance {
					t.Errorf("balance of %s = %d, want %d", tt.req.GetAccount(), got, tt.wantBalance)
				}
			}
		})
	}
}

func TestCreateTransferInsufficientFundsDetails(t *testing.T) {
	f := start(t)
	_, err := f.client.CreateTransfer(testContext(t), &bankv1.CreateTransferRequest{
		Account: "accounts/bob-checking", AmountCents: 1_000_000, Currency: "GBP",
	})
	if got := status.Code(err); got != codes.FailedPrecondition {
		t.Fatalf("CreateTransfer(too much) code = %v, want FailedPrecondition (err %v)", got, err)
	}
	v := preconditionViolation(t, err)
	if v.GetType() != "INSUFFICIENT_FUNDS" || v.GetSubject() != "accounts/bob-checking" || v.GetDescription() == "" {
		t.Errorf("CreateTransfer(too much) violation = %v, want INSUFFICIENT_FUNDS on accounts/bob-checking with a description", v)
	}
}

func TestCreateTransferIdempotent(t *testing.T) {
	f := start(t)
	ctx := testContext(t)
	req := &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: 5000, Currency: "EUR", RequestId: "req-1"}

	first, err := f.client.CreateTransfer(ctx, req)
	if err != nil {
		t.Fatalf("CreateTransfer(%v) = %v, want nil", req, err)
	}
	again, err := f.client.CreateTransfer(ctx, req)
	if err != nil || !proto.Equal(again.GetTransfer(), first.GetTransfer()) {
		t.Fatalf("CreateTransfer(%v) again = %v, %v, want %v, nil", req, again, err, first)
	}
	if got := f.balance(t, req.GetAccount()); got != 245000 {
		t.Errorf("balance after a retried transfer = %d, want 245000 (debited once)", got)
	}

	changed := proto.Clone(req).(*bankv1.CreateTransferRequest)
	changed.AmountCents = 6000
	if _, err := f.client.CreateTransfer(ctx, changed); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CreateTransfer(same request_id, other amount) = %v, want InvalidArgument", err)
	}

	// A failed call is not remembered: its request_id works once funds allow.
	big := &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: 245000, Currency: "EUR", RequestId: "req-2"}
	if _, err := f.client.CreateTransfer(ctx, big); err != nil {
		t.Fatalf("CreateTransfer(%v) = %v, want nil", big, err)
	}
	if _, err := f.client.CreateTransfer(ctx, big); err != nil {
		t.Errorf("CreateTransfer(%v) replayed after the balance is gone = %v, want nil", big, err)
	}
	second, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{Account: "accounts/alice-savings", AmountCents: 1, Currency: "EUR"})
	if err != nil || second.GetTransfer().GetName() != "accounts/alice-savings/transfers/1" {
		t.Errorf("CreateTransfer(savings) = %v, %v, want accounts/alice-savings/transfers/1", second, err)
	}
}

func TestListTransactions(t *testing.T) {
	f := start(t)
	ctx := testContext(t)
	for i := range 3 {
		if _, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
			Account: "accounts/alice-checking", AmountCents: int64(100 + i), Currency: "EUR", Memo: fmt.Sprintf("memo %d", i),
		}); err != nil {
			t.Fatalf("CreateTransfer(%d) = %v, want nil", i, err)
		}
	}
	tests := []struct {
		name    string
		account string
		size    int32
		want    []int64 // amounts, newest first
		code    codes.Code
	}{
		{"all", "accounts/alice-checking", 0, []int64{-102, -101, -100, -3000, -12000, -35000, 300000}, codes.OK},
		{"newest two", "accounts/alice-checking", 2, []int64{-102, -101}, codes.OK},
		{"seeded savings", "accounts/alice-savings", 0, []int64{200000, 1000000}, codes.OK},
		{"seeded bob", "accounts/bob-checking", 1, []int64{-15000}, codes.OK},
		{"negative size", "accounts/bob-checking", -1, nil, codes.InvalidArgument},
		{"unknown", "accounts/nobody", 0, nil, codes.NotFound},
		{"bad name", "bob", 0, nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.client.ListTransactions(ctx, &bankv1.ListTransactionsRequest{Account: tt.account, PageSize: tt.size})
			if got := status.Code(err); got != tt.code {
				t.Fatalf("ListTransactions(%q, %d) code = %v, want %v (err %v)", tt.account, tt.size, got, tt.code, err)
			}
			var got []int64
			for _, tx := range resp.GetTransactions() {
				got = append(got, tx.GetAmountCents())
				if tx.GetAccount() != tt.account || tx.GetId() == "" || tx.GetBookedUnix() == 0 {
					t.Errorf("ListTransactions(%q) entry %v, want account %q, an id and a booking time", tt.account, tx, tt.account)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ListTransactions(%q, %d) amounts = %v, want %v", tt.account, tt.size, got, tt.want)
			}
		})
	}
	resp, err := f.client.ListTransactions(ctx, &bankv1.ListTransactionsRequest{Account: "accounts/alice-checking", PageSize: 1})
	if tx := resp.GetTransactions(); err != nil || len(tx) != 1 || tx[0].GetDescription() != "memo 2" || tx[0].GetCurrency() != "EUR" {
		t.Errorf("ListTransactions(newest) = %v, %v, want memo 2 in EUR", tx, err)
	}
}
