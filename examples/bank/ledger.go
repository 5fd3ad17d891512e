package bank

import (
	"context"
	"math"
	"strconv"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

const (
	stateOpen   = "open"
	stateClosed = "closed"

	// maxHistory caps the transactions kept per account, so a long-running
	// demo with a ticker does not grow without bound. Older entries are
	// folded into account.carried, which keeps Reconcile exact.
	maxHistory = 10000
)

// account is the mutable state of one account; Server.mu guards all of it.
type account struct {
	pb           *bankv1.Account
	history      []*bankv1.Transaction // oldest first; entries are never mutated
	carried      int64                 // sum of entries dropped from history
	nextTx       int64
	nextTransfer int64
	watchers     map[*watcher]struct{}
	payees       []*bankv1.Payee
}

// watcher is one WatchTransactions stream's subscription. The publisher
// never blocks: when ch is full it closes ch and sets reason, ending the
// watch. reason is written before close(ch), so the reader may read it
// after seeing ch closed.
type watcher struct {
	ch     chan *bankv1.Transaction
	reason error
}

// book records a transaction of amount on a, updates the balance and sends
// the transaction to a's watchers. The caller holds s.mu for writing and has
// checked that the balance stays within bounds.
func (s *Server) book(a *account, amount int64, description, iban string, booked time.Time) *bankv1.Transaction {
	a.nextTx++
	tx := &bankv1.Transaction{
		Id:               "tx-" + strconv.FormatInt(a.nextTx, 10),
		Account:          a.pb.GetName(),
		AmountCents:      amount,
		Currency:         a.pb.GetCurrency(),
		Description:      description,
		BookedUnix:       booked.Unix(),
		CounterpartyIban: iban,
	}
	a.pb.BalanceCents += amount
	a.history = append(a.history, tx)
	if len(a.history) > maxHistory {
		drop := len(a.history) - maxHistory
		for _, old := range a.history[:drop] {
			a.carried += old.GetAmountCents()
		}
		a.history = append(a.history[:0:0], a.history[drop:]...)
	}
	for w := range a.watchers {
		select {
		case w.ch <- tx:
		default:
			delete(a.watchers, w)
			w.reason = errWatchBehind
			close(w.ch)
		}
	}
	return tx
}

// fits reports whether adding amount to balance neither overdraws the
// account nor overflows.
func fits(balance, amount int64) bool {
	if amount > 0 {
		return balance <= math.MaxInt64-amount
	}
	return balance+amount >= 0
}

// subscribe adds a watcher to the named account. It fails with NotFound for
// an unknown account and Unavailable once the server is closed.
func (s *Server) subscribe(name string) (*watcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	a, ok := s.accounts[name]
	if !ok {
		return nil, errAccountNotFound
	}
	w := &watcher{ch: make(chan *bankv1.Transaction, s.opts.watchBuffer)}
	if a.watchers == nil {
		a.watchers = make(map[*watcher]struct{})
	}
	a.watchers[w] = struct{}{}
	return w, nil
}

// unsubscribe removes w if the publisher has not already removed it.
func (s *Server) unsubscribe(name string, w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[name]; ok {
		delete(a.watchers, w)
	}
}

// runTicker books synthetic transactions until ctx ends; it closes done on
// return.
func (s *Server) runTicker(ctx context.Context, interval time.Duration, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tick(n)
		}
	}
}

// tickAmount is the size of each synthetic transaction, 2.50.
const tickAmount = 250

// tick books the nth synthetic transaction on every open account: a credit
// on odd ticks, a debit on even ones.
func (s *Server) tick(n int) {
	amount, description := int64(tickAmount), "Card refund (demo tick)"
	if n%2 == 0 {
		amount, description = -tickAmount, "Card payment (demo tick)"
	}
	now := s.opts.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.names {
		a := s.accounts[name]
		if a.pb.GetState() != stateOpen || !fits(a.pb.GetBalanceCents(), amount) {
			continue
		}
		s.book(a, amount, description, "", now)
	}
}
