package bank

import (
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

var errPair = status.Error(codes.InvalidArgument, "unknown currency pair")

// WatchTransactions streams the account's transactions as they are booked,
// by any call or by the ticker of [WithTickTransactions]; it never replays
// history. Response headers are sent as soon as the watch is subscribed, so
// a client that waits for them sees every transaction booked afterwards.
// The stream ends when the client's context ends (with that context's
// status); with ResourceExhausted "watch fell behind" if the client falls
// more than the [WithWatchBuffer] size behind; and with Unavailable after
// [Server.Close]. A bad name is InvalidArgument, an unknown account
// NotFound.
func (s *Server) WatchTransactions(req *bankv1.WatchTransactionsRequest, stream grpc.ServerStreamingServer[bankv1.WatchTransactionsResponse]) error {
	name := req.GetAccount()
	if !validName(name, "accounts/") {
		return errAccountName
	}
	w, err := s.subscribe(name)
	if err != nil {
		return err
	}
	defer s.unsubscribe(name, w)
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case tx, ok := <-w.ch:
			if !ok {
				return w.reason
			}
			// tx is shared with other watchers and the history; Send
			// only reads it.
			if err := stream.Send(&bankv1.WatchTransactionsResponse{Transaction: tx}); err != nil {
				return err
			}
		}
	}
}

// ImportTransactions books every transaction of a ledger feed and, at the
// end of the client stream, returns how many were imported and rejected. A
// transaction is rejected, and the stream goes on, if it is missing, names
// a malformed, unknown or closed account, has a zero amount, has a currency
// other than the account's (an empty currency means the account's), or
// would overdraw or overflow the balance. The bank assigns the id;
// booked_unix is kept if positive, else it is the current time.
func (s *Server) ImportTransactions(stream grpc.ClientStreamingServer[bankv1.ImportTransactionsRequest, bankv1.ImportTransactionsResponse]) error {
	var resp bankv1.ImportTransactionsResponse
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&resp)
		}
		if err != nil {
			return err
		}
		if s.importOne(req.GetTransaction()) {
			resp.Imported++
		} else {
			resp.Rejected++
		}
	}
}

// importOne books tx and reports whether it was accepted.
func (s *Server) importOne(tx *bankv1.Transaction) bool {
	if tx == nil || tx.GetAmountCents() == 0 {
		return false
	}
	booked := s.opts.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.lookup(tx.GetAccount())
	switch {
	case err != nil,
		a.pb.GetState() != stateOpen,
		tx.GetCurrency() != "" && tx.GetCurrency() != a.pb.GetCurrency(),
		!fits(a.pb.GetBalanceCents(), tx.GetAmountCents()):
		return false
	}
	if tx.GetBookedUnix() > 0 {
		booked = time.Unix(tx.GetBookedUnix(), 0)
	}
	s.book(a, tx.GetAmountCents(), tx.GetDescription(), tx.GetCounterpartyIban(), booked)
	return true
}

// quotes is the fixed FX table, in millionths.
var quotes = map[string]*bankv1.Quote{
	"EUR/USD": {Pair: "EUR/USD", BidMicros: 1083400, AskMicros: 1083600},
	"EUR/GBP": {Pair: "EUR/GBP", BidMicros: 857100, AskMicros: 857400},
	"GBP/USD": {Pair: "GBP/USD", BidMicros: 1264000, AskMicros: 1264300},
	"USD/JPY": {Pair: "USD/JPY", BidMicros: 151230000, AskMicros: 151250000},
	"EUR/CHF": {Pair: "EUR/CHF", BidMicros: 942500, AskMicros: 942900},
	"USD/CHF": {Pair: "USD/CHF", BidMicros: 870100, AskMicros: 870400},
}

// QuoteStream answers every request with the quote for its pair, such as
// "EUR/USD", from a fixed table: EUR/USD, EUR/GBP, GBP/USD, USD/JPY, EUR/CHF
// and USD/CHF. Quotes are deterministic. An unknown pair ends the stream
// with InvalidArgument "unknown currency pair"; the client closing its side
// ends it with OK.
func (s *Server) QuoteStream(stream grpc.BidiStreamingServer[bankv1.QuoteStreamRequest, bankv1.QuoteStreamResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		q, ok := quotes[req.GetPair()]
		if !ok {
			return errPair
		}
		// q is shared and never mutated; Send only reads it.
		if err := stream.Send(&bankv1.QuoteStreamResponse{Quote: q}); err != nil {
			return err
		}
	}
}
