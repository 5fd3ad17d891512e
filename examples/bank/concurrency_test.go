package bank_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// TestConcurrentTransfers runs writers, readers and a watch at once (run it
// with -race). Every writer books its own transfers and also retries a
// shared set, so the shared ones must be booked exactly once.
func TestConcurrentTransfers(t *testing.T) {
	const (
		writers   = 8
		perWriter = 25
		readers   = 4
		amount    = 100
		account   = "accounts/alice-checking"
	)
	f := start(t, bank.WithWatchBuffer(1024))
	ctx := testContext(t)
	stream := watch(t, ctx, f, account)

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		sharedIDs = map[string]map[string]bool{} // request_id -> transfer names seen
	)
	for w := range writers {
		wg.Go(func() {
			for j := range perWriter {
				for _, id := range []string{fmt.Sprintf("w%d-%d", w, j), fmt.Sprintf("shared-%d", j)} {
					resp, err := f.client.CreateTransfer(ctx, &bankv1.CreateTransferRequest{
						Account: account, AmountCents: amount, Currency: "EUR", RequestId: id,
					})
					if err != nil {
						t.Errorf("CreateTransfer(%s) = %v, want nil", id, err)
						return
					}
					mu.Lock()
					if sharedIDs[id] == nil {
						sharedIDs[id] = map[string]bool{}
					}
					sharedIDs[id][resp.GetTransfer().GetName()] = true
					mu.Unlock()
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range perWriter {
				if _, err := f.client.GetAccount(ctx, &bankv1.GetAccountRequest{Name: account}); err != nil {
					t.Errorf("GetAccount() = %v, want nil", err)
					return
				}
				if _, err := f.client.ListTransactions(ctx, &bankv1.ListTransactionsRequest{Account: account, PageSize: 10}); err != nil {
					t.Errorf("ListTransactions() = %v, want nil", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	const booked = writers*perWriter + perWriter
	for id, names := range sharedIDs {
		if len(names) != 1 {
			t.Errorf("request_id %s produced transfers %v, want exactly one", id, names)
		}
	}
	if got, want := f.balance(t, account), int64(250000-booked*amount); got != want {
		t.Errorf("balance = %d, want %d", got, want)
	}
	for i := range booked {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("watch Recv() #%d = %v, want nil", i, err)
		}
	}
	rec, err := f.client.Reconcile(ctx, &bankv1.ReconcileRequest{Account: account})
	if err != nil || !rec.GetBalanced() {
		t.Errorf("Reconcile() = %v, %v, want balanced", rec, err)
	}
}
