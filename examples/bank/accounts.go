package bank

import (
	"context"
	"encoding/base64"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

const (
	defaultAccountPage = 50
	maxPage            = 1000
)

var (
	errAccountName      = status.Error(codes.InvalidArgument, `account name must be "accounts/{id}"`)
	errCustomerName     = status.Error(codes.InvalidArgument, `customer must be "customers/{id}"`)
	errCustomerNotFound = status.Error(codes.NotFound, "customer not found")
	errPageSize         = status.Error(codes.InvalidArgument, "page_size must not be negative")
	errPageToken        = status.Error(codes.InvalidArgument, "invalid page_token")
	errAccountClosed    = status.Error(codes.FailedPrecondition, "account closed")
)

// validName reports whether name is prefix followed by one segment of lower
// case letters, digits and dashes.
func validName(name, prefix string) bool {
	id, ok := strings.CutPrefix(name, prefix)
	if !ok || id == "" || len(id) > 63 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// lookup returns the named account; the caller holds s.mu.
func (s *Server) lookup(name string) (*account, error) {
	if !validName(name, "accounts/") {
		return nil, errAccountName
	}
	a, ok := s.accounts[name]
	if !ok {
		return nil, errAccountNotFound
	}
	return a, nil
}

// GetAccount returns the named account. It fails with InvalidArgument if
// the name is not "accounts/{id}" and NotFound ("account not found") if
// there is no such account.
func (s *Server) GetAccount(_ context.Context, req *bankv1.GetAccountRequest) (*bankv1.GetAccountResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	return &bankv1.GetAccountResponse{Account: clone(a.pb)}, nil
}

// ListAccounts lists a customer's accounts, open and closed, ordered by
// name. The bank has no notion of the caller (authorization is the
// gateway's job), so an empty customer lists every account. page_size 0
// means 50 and is capped at 1000; page_token is the opaque
// next_page_token of the previous page, valid only with the same customer.
// Errors: InvalidArgument for a malformed customer, a negative page_size or
// a bad page_token; NotFound for an unknown customer.
func (s *Server) ListAccounts(_ context.Context, req *bankv1.ListAccountsRequest) (*bankv1.ListAccountsResponse, error) {
	customer := req.GetCustomer()
	if customer != "" && !validName(customer, "customers/") {
		return nil, errCustomerName
	}
	size, err := pageSize(req.GetPageSize(), defaultAccountPage)
	if err != nil {
		return nil, err
	}
	after := ""
	if t := req.GetPageToken(); t != "" {
		if after, err = decodePageToken(t, customer); err != nil {
			return nil, err
		}
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if customer != "" && !s.customers[customer] {
		return nil, errCustomerNotFound
	}
	resp := &bankv1.ListAccountsResponse{}
	for _, name := range s.names {
		a := s.accounts[name]
		if name <= after || (customer != "" && a.pb.GetCustomer() != customer) {
			continue
		}
		if len(resp.Accounts) == size {
			resp.NextPageToken = encodePageToken(customer, resp.Accounts[size-1].GetName())
			break
		}
		resp.Accounts = append(resp.Accounts, clone(a.pb))
	}
	return resp, nil
}

// pageSize applies the default and the cap to a requested page size.
func pageSize(n int32, def int) (int, error) {
	switch {
	case n < 0:
		return 0, errPageSize
	case n == 0:
		return def, nil
	case n > maxPage:
		return maxPage, nil
	}
	return int(n), nil
}

// Page tokens are base64url("v1\x00" + customer + "\x00" + last name
// returned). They carry the customer so a token cannot continue a listing
// of someone else, and the last name rather than an offset so paging stays
// stable while accounts are added.
const pageTokenVersion = "v1"

func encodePageToken(customer, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenVersion + "\x00" + customer + "\x00" + last))
}

func decodePageToken(token, customer string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", errPageToken
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[0] != pageTokenVersion || parts[1] != customer || !validName(parts[2], "accounts/") {
		return "", errPageToken
	}
	return parts[2], nil
}

// CloseAccount closes the named account for good and returns it in state
// "closed". The balance must be zero: otherwise it fails with
// FailedPrecondition and an errdetails.PreconditionFailure of type
// "BALANCE_NOT_ZERO". Closing a closed account is FailedPrecondition
// ("account closed"); a bad name is InvalidArgument, an unknown account
// NotFound. The reason is not stored; the gateway audits it.
func (s *Server) CloseAccount(_ context.Context, req *bankv1.CloseAccountRequest) (*bankv1.CloseAccountResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	if a.pb.GetState() == stateClosed {
		return nil, errAccountClosed
	}
	if a.pb.GetBalanceCents() != 0 {
		return nil, preconditionFailed("account balance is not zero", "BALANCE_NOT_ZERO", a.pb.GetName(),
			"the balance must be zero before the account can be closed")
	}
	a.pb.State = stateClosed
	return &bankv1.CloseAccountResponse{Account: clone(a.pb)}, nil
}

// Reconcile sums the named account's ledger and compares it with the
// balance; the in-memory ledger always agrees, so it reports balanced with
// difference 0. A bad name is InvalidArgument, an unknown account NotFound.
func (s *Server) Reconcile(_ context.Context, req *bankv1.ReconcileRequest) (*bankv1.ReconcileResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, err := s.lookup(req.GetAccount())
	if err != nil {
		return nil, err
	}
	ledger := a.carried
	for _, tx := range a.history {
		ledger += tx.GetAmountCents()
	}
	diff := ledger - a.pb.GetBalanceCents()
	return &bankv1.ReconcileResponse{Balanced: diff == 0, DifferenceCents: diff}, nil
}

// preconditionFailed returns a FailedPrecondition status with msg and one
// PreconditionFailure violation.
func preconditionFailed(msg, typ, subject, description string) error {
	st := status.New(codes.FailedPrecondition, msg)
	withDetails, err := st.WithDetails(&errdetails.PreconditionFailure{
		Violations: []*errdetails.PreconditionFailure_Violation{{
			Type: typ, Subject: subject, Description: description,
		}},
	})
	if err != nil {
		// WithDetails fails only if the detail cannot be marshalled,
		// which a well-formed PreconditionFailure always can.
		return st.Err()
	}
	return withDetails.Err()
}
