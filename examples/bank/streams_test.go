package bank_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// watch opens a watch on account and waits until it is subscribed.
func watch(t *testing.T, ctx context.Context, f *fixture, account string) bankv1.BankService_WatchTransactionsClient {
	t.Helper()
	stream, err := f.client.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: account})
	if err != nil {
		t.Fatalf("WatchTransactions(%q) = %v, want nil", account, err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("WatchTransactions(%q).Header() = %v, want nil", account, err)
	}
	return stream
}

func TestWatchTransactionsSeesTransfer(t *testing.T) {
	now := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	f := start(t, bank.WithClock(func() time.Time { return now }))
	ctx := testContext(t)
	alice := watch(t, ctx, f, "accounts/alice-checking")
	bob := watch(t, ctx, f, "accounts/bob-checking")

	if _, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
		Account: "accounts/alice-checking", AmountCents: 4200, Currency: "EUR", Memo: "Books",
		Beneficiary: &bankv1.Beneficiary{Name: "Bookshop", Iban: "DE44500105175407324931"},
	}); err != nil {
		t.Fatalf("CreateTransfer() = %v, want nil", err)
	}
	if _, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
		Account: "accounts/bob-checking", AmountCents: 100, Currency: "GBP",
	}); err != nil {
		t.Fatalf("CreateTransfer(bob) = %v, want nil", err)
	}

	got, err := alice.Recv()
	want := &bankv1.Transaction{
		Id: "tx-5", Account: "accounts/alice-checking", AmountCents: -4200, Currency: "EUR",
		Description: "Books", BookedUnix: now.Unix(), CounterpartyIban: "DE44500105175407324931",
	}
	if err != nil || !proto.Equal(got.GetTransaction(), want) {
		t.Errorf("alice watch Recv() = %v, %v, want %v", got, err, want)
	}
	got, err = bob.Recv()
	if err != nil || got.GetTransaction().GetAmountCents() != -100 || got.GetTransaction().GetDescription() != "Transfer to " {
		t.Errorf("bob watch Recv() = %v, %v, want the -100 transfer only", got, err)
	}
}

func TestWatchTransactionsTicker(t *testing.T) {
	f := start(t, bank.WithTickTransactions(5*time.Millisecond))
	ctx := testContext(t)
	stream := watch(t, ctx, f, "accounts/bob-checking")
	// Ticks may have run before the watch began, so the first one seen can
	// be either sign; after that they alternate.
	var prev int64
	for i := range 3 {
		got, err := stream.Recv()
		if err != nil {
			t.Fatalf("ticker watch Recv() #%d = %v, want nil", i, err)
		}
		amount := got.GetTransaction().GetAmountCents()
		if (amount != 250 && amount != -250) || (i > 0 && amount != -prev) {
			t.Fatalf("ticker watch Recv() #%d amount = %d after %d, want ±250 alternating", i, amount, prev)
		}
		prev = amount
	}
}

func TestWatchTransactionsEnds(t *testing.T) {
	tests := []struct {
		name    string
		account string
		end     func(f *fixture, cancel context.CancelFunc)
		code    codes.Code
	}{
		{name: "unknown account", account: "accounts/nobody", code: codes.NotFound},
		{name: "bad name", account: "nobody", code: codes.InvalidArgument},
		{name: "client cancels", account: "accounts/alice-checking", end: func(_ *fixture, cancel context.CancelFunc) { cancel() }, code: codes.Canceled},
		{name: "server closes", account: "accounts/alice-checking", end: func(f *fixture, _ context.CancelFunc) { _ = f.bank.Close() }, code: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			stream, err := f.client.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: tt.account})
			if err != nil {
				t.Fatalf("WatchTransactions(%q) = %v, want nil", tt.account, err)
			}
			if tt.end != nil {
				if _, err := stream.Header(); err != nil {
					t.Fatalf("Header() = %v, want nil", err)
				}
				tt.end(f, cancel)
			}
			_, err = stream.Recv()
			if got := status.Code(err); got != tt.code {
				t.Errorf("WatchTransactions(%q).Recv() code = %v, want %v (err %v)", tt.account, got, tt.code, err)
			}
		})
	}
}

func TestImportTransactions(t *testing.T) {
	f := start(t)
	ctx := testContext(t)
	stream, err := f.client.ImportTransactions(ctx)
	if err != nil {
		t.Fatalf("ImportTransactions() = %v, want nil", err)
	}
	feed := []*bankv1.Transaction{
		{Account: "accounts/alice-checking", AmountCents: 1000, Currency: "EUR", Description: "Refund", BookedUnix: 1767600000},
		{Account: "accounts/alice-checking", AmountCents: -500, Description: "Fee"}, // empty currency: the account's
		{Account: "accounts/bob-checking", AmountCents: 2500, Currency: "GBP"},
		{Account: "accounts/nobody", AmountCents: 100, Currency: "EUR"},        // unknown account
		{Account: "bob", AmountCents: 100, Currency: "EUR"},                    // bad name
		{Account: "accounts/bob-checking", AmountCents: 0, Currency: "GBP"},    // zero
		{Account: "accounts/bob-checking", AmountCents: 100, Currency: "EUR"},  // wrong currency
		{Account: "accounts/bob-checking", AmountCents: -1e9, Currency: "GBP"}, // overdraws
		nil, // missing
	}
	for _, tx := range feed {
		if err := stream.Send(&bankv1.ImportTransactionsRequest{Transaction: tx}); err != nil {
			t.Fatalf("Send(%v) = %v, want nil", tx, err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil || resp.GetImported() != 3 || resp.GetRejected() != 6 {
		t.Fatalf("CloseAndRecv() = %v, %v, want imported 3, rejected 6", resp, err)
	}
	if got := f.balance(t, "accounts/alice-checking"); got != 250500 {
		t.Errorf("alice balance after import = %d, want 250500", got)
	}
	if got := f.balance(t, "accounts/bob-checking"); got != 77500 {
		t.Errorf("bob balance after import = %d, want 77500", got)
	}
	list, err := f.client.ListTransactions(ctx, &bankv1.ListTransactionsRequest{Account: "accounts/alice-checking", PageSize: 2})
	if tx := list.GetTransactions(); err != nil || len(tx) != 2 || tx[1].GetBookedUnix() != 1767600000 || tx[0].GetCurrency() != "EUR" {
		t.Errorf("ListTransactions(after import) = %v, %v, want the fee (EUR), then the refund at 1767600000", tx, err)
	}
}

func TestQuoteStream(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		want  []*bankv1.Quote
		code  codes.Code // of the stream's end
	}{
		{
			name:  "known pairs",
			pairs: []string{"EUR/USD", "USD/JPY", "EUR/USD"},
			want: []*bankv1.Quote{
				{Pair: "EUR/USD", BidMicros: 1083400, AskMicros: 1083600},
				{Pair: "USD/JPY", BidMicros: 151230000, AskMicros: 151250000},
				{Pair: "EUR/USD", BidMicros: 1083400, AskMicros: 1083600},
			},
		},
		{
			name:  "unknown pair",
			pairs: []string{"GBP/USD", "EUR/XXX", "EUR/USD"},
			want:  []*bankv1.Quote{{Pair: "GBP/USD", BidMicros: 1264000, AskMicros: 1264300}},
			code:  codes.InvalidArgument,
		},
		{name: "nothing asked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t)
			stream, err := f.client.QuoteStream(testContext(t))
			if err != nil {
				t.Fatalf("QuoteStream() = %v, want nil", err)
			}
			var got []*bankv1.Quote
			for _, p := range tt.pairs {
				if err := stream.Send(&bankv1.QuoteStreamRequest{Pair: p}); err != nil {
					break // the server ended the stream; Recv reports why
				}
				resp, err := stream.Recv()
				if err != nil {
					break
				}
				got = append(got, resp.GetQuote())
			}
			_ = stream.CloseSend()
			var end error
			for end == nil {
				_, end = stream.Recv()
			}
			if errors.Is(end, io.EOF) {
				end = nil
			}
			if code := status.Code(end); code != tt.code {
				t.Errorf("QuoteStream(%v) ended with %v, want %v", tt.pairs, end, tt.code)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("QuoteStream(%v) = %v, want %v", tt.pairs, got, tt.want)
			}
			for i := range got {
				if !proto.Equal(got[i], tt.want[i]) {
					t.Errorf("QuoteStream(%v)[%d] = %v, want %v", tt.pairs, i, got[i], tt.want[i])
				}
			}
		})
	}
}
