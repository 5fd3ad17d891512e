package bank

import (
	"context"
	"errors"
	"testing"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// TestWatcherFallsBehind checks that a full watcher is dropped instead of
// blocking the booking.
func TestWatcherFallsBehind(t *testing.T) {
	s := New(WithWatchBuffer(2))
	defer s.Close()
	w, err := s.subscribe("accounts/alice-checking")
	if err != nil {
		t.Fatalf("subscribe() = %v, want nil", err)
	}
	for range 3 {
		if _, err := s.CreateTransfer(context.Background(), &bankv1.CreateTransferRequest{
			Account: "accounts/alice-checking", AmountCents: 1, Currency: "EUR",
		}); err != nil {
			t.Fatalf("CreateTransfer() = %v, want nil", err)
		}
	}
	var got int
	for range w.ch {
		got++
	}
	if got != 2 || !errors.Is(w.reason, errWatchBehind) {
		t.Errorf("watcher got %d transactions, reason %v; want 2, %v", got, w.reason, errWatchBehind)
	}
	if n := len(s.accounts["accounts/alice-checking"].watchers); n != 0 {
		t.Errorf("watchers left = %d, want 0", n)
	}
	s.unsubscribe("accounts/alice-checking", w) // must not panic after the drop
}

func TestTickSkipsOverdraft(t *testing.T) {
	s := New()
	defer s.Close()
	bob := s.accounts["accounts/bob-checking"]
	bob.pb.BalanceCents = 100 // below tickAmount; the history no longer matters here
	before := len(bob.history)
	s.tick(2) // a debit
	if len(bob.history) != before || bob.pb.GetBalanceCents() != 100 {
		t.Errorf("tick(2) on 1.00 booked %d, balance %d; want nothing booked, 100", len(bob.history)-before, bob.pb.GetBalanceCents())
	}
	s.tick(1) // a credit
	if len(bob.history) != before+1 || bob.pb.GetBalanceCents() != 100+tickAmount {
		t.Errorf("tick(1) booked %d, balance %d; want 1, %d", len(bob.history)-before, bob.pb.GetBalanceCents(), 100+tickAmount)
	}
}

// TestHistoryCap checks that history is capped and Reconcile stays exact.
func TestHistoryCap(t *testing.T) {
	s := New()
	defer s.Close()
	for i := range maxHistory + 50 {
		if !s.importOne(&bankv1.Transaction{Account: "accounts/bob-checking", AmountCents: int64(i%7 + 1)}) {
			t.Fatalf("importOne(#%d) = false, want true", i)
		}
	}
	if n := len(s.accounts["accounts/bob-checking"].history); n != maxHistory {
		t.Errorf("history length = %d, want %d", n, maxHistory)
	}
	resp, err := s.Reconcile(context.Background(), &bankv1.ReconcileRequest{Account: "accounts/bob-checking"})
	if err != nil || !resp.GetBalanced() || resp.GetDifferenceCents() != 0 {
		t.Errorf("Reconcile() = %v, %v, want balanced, difference 0", resp, err)
	}
}
