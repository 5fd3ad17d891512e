package bank

import (
	"context"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

const (
	defaultTransactionPage = 100
	stateBooked            = "booked"
)

var (
	errAmount         = status.Error(codes.InvalidArgument, "amount_cents must be positive")
	errCurrency       = status.Error(codes.InvalidArgument, "currency does not match the account's")
	errRequestIDReuse = status.Error(codes.InvalidArgument, "request_id was used for a different transfer")
)

// CreateTransfer debits the account by amount_cents, books a transaction
// and returns the transfer, named "accounts/{id}/transfers/{n}" and in state
// "booked". A repeated call with the same request_id and an identical
// request returns the first transfer without booking again; the same
// request_id with a different request is InvalidArgument. Errors, checked
// in this order: InvalidArgument for a bad account name, NotFound for an
// unknown account, InvalidArgument for amount_cents <= 0 or a currency other
// than the account's, FailedPrecondition "account closed", and
// FailedPrecondition "insufficient funds" with an
// errdetails.PreconditionFailure of type "INSUFFICIENT_FUNDS" whose subject
// is the account. Failed calls are not remembered, so they may be retried
// with the same request_id.
func (s *Server) CreateTransfer(_ context.Context, req *bankv1.CreateTransferRequest) (*bankv1.CreateTransferResponse, error) {
	now := s.opts.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.lookup(req.GetAccount())
	if err != nil {
		return nil, err
	}
	id := req.GetRequestId()
	if prev, ok := s.transfers[id]; ok { // only non-empty ids are stored
		if !proto.Equal(prev.req, req) {
			return nil, errRequestIDReuse
		}
		return &bankv1.CreateTransferResponse{Transfer: clone(prev.out)}, nil
	}
	amount := req.GetAmountCents()
	switch {
	case amount <= 0:
		return nil, errAmount
	case req.GetCurrency() != a.pb.GetCurrency():
		return nil, errCurrency
	case a.pb.GetState() != stateOpen:
		return nil, errAccountClosed
	case !fits(a.pb.GetBalanceCents(), -amount):
		return nil, preconditionFailed("insufficient funds", "INSUFFICIENT_FUNDS", a.pb.GetName(),
			"the balance is lower than the transfer amount")
	}

	b := req.GetBeneficiary()
	description := req.GetMemo()
	if description == "" {
		description = "Transfer to " + b.GetName()
	}
	s.book(a, -amount, description, b.GetIban(), now)
	a.nextTransfer++
	out := &bankv1.Transfer{
		Name:        a.pb.GetName() + "/transfers/" + strconv.FormatInt(a.nextTransfer, 10),
		Account:     a.pb.GetName(),
		Beneficiary: clone(b),
		AmountCents: amount,
		Currency:    a.pb.GetCurrency(),
		State:       stateBooked,
	}
	if id != "" {
		s.transfers[id] = transfer{req: clone(req), out: out}
	}
	return &bankv1.CreateTransferResponse{Transfer: clone(out)}, nil
}

// ListTransactions returns the account's most recent transactions, newest
// first. page_size 0 means 100 and is capped at 1000. A bad account name or
// a negative page_size is InvalidArgument, an unknown account NotFound.
func (s *Server) ListTransactions(_ context.Context, req *bankv1.ListTransactionsRequest) (*bankv1.ListTransactionsResponse, error) {
	size, err := pageSize(req.GetPageSize(), defaultTransactionPage)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, err := s.lookup(req.GetAccount())
	if err != nil {
		return nil, err
	}
	n := min(size, len(a.history))
	resp := &bankv1.ListTransactionsResponse{Transactions: make([]*bankv1.Transaction, 0, n)}
	for i := len(a.history) - 1; i >= len(a.history)-n; i-- {
		resp.Transactions = append(resp.Transactions, clone(a.history[i]))
	}
	return resp, nil
}
