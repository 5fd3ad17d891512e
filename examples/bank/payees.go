package bank

import (
	"context"
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// maxPayees bounds the payees of one account.
const maxPayees = 100

var (
	errDisplayName = status.Error(codes.InvalidArgument, "display_name must be 1 to 64 characters")
	errIBAN        = status.Error(codes.InvalidArgument, "iban must be 15 to 34 letters and digits")
	errTooManyPay  = status.Error(codes.ResourceExhausted, "too many payees on this account")
)

// AddPayee registers a payee on the named account and returns it, named
// "accounts/{id}/payees/{n}". display_name must be 1 to 64 characters and
// iban 15 to 34 ASCII letters and digits (InvalidArgument otherwise); a
// closed account is FailedPrecondition, an account with 100 payees
// ResourceExhausted.
func (s *Server) AddPayee(_ context.Context, req *bankv1.AddPayeeRequest) (*bankv1.AddPayeeResponse, error) {
	if n := utf8.RuneCountInString(req.GetDisplayName()); n < 1 || n > 64 || !utf8.ValidString(req.GetDisplayName()) {
		return nil, errDisplayName
	}
	if !validIBAN(req.GetIban()) {
		return nil, errIBAN
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.lookup(req.GetAccount())
	if err != nil {
		return nil, err
	}
	if a.pb.GetState() == stateClosed {
		return nil, errAccountClosed
	}
	if len(a.payees) >= maxPayees {
		return nil, errTooManyPay
	}
	p := &bankv1.Payee{
		Name:        fmt.Sprintf("%s/payees/%d", a.pb.GetName(), len(a.payees)+1),
		DisplayName: req.GetDisplayName(),
		Iban:        req.GetIban(),
	}
	a.payees = append(a.payees, p)
	return &bankv1.AddPayeeResponse{Payee: clone(p)}, nil
}

func validIBAN(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
