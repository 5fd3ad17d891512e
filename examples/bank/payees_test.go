package bank_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestAddPayee(t *testing.T) {
	f := start(t)
	ctx := testContext(t)
	for i, want := range []string{"accounts/alice-checking/payees/1", "accounts/alice-checking/payees/2"} {
		resp, err := f.client.AddPayee(ctx, &bankv1.AddPayeeRequest{
			Account: "accounts/alice-checking", DisplayName: "Landlord", Iban: "FR7630006000011234567890189",
		})
		if err != nil {
			t.Fatalf("AddPayee #%d: %v", i, err)
		}
		if got := resp.GetPayee(); got.GetName() != want || got.GetDisplayName() != "Landlord" || got.GetIban() != "FR7630006000011234567890189" {
			t.Fatalf("AddPayee #%d = %v, want name %s", i, got, want)
		}
	}
	tests := []struct {
		name string
		req  *bankv1.AddPayeeRequest
		code codes.Code
	}{
		{"bad account name", &bankv1.AddPayeeRequest{Account: "alice", DisplayName: "x", Iban: "DE89370400440532013000"}, codes.InvalidArgument},
		{"unknown account", &bankv1.AddPayeeRequest{Account: "accounts/nobody", DisplayName: "x", Iban: "DE89370400440532013000"}, codes.NotFound},
		{"empty display name", &bankv1.AddPayeeRequest{Account: "accounts/alice-checking", Iban: "DE89370400440532013000"}, codes.InvalidArgument},
		{"long display name", &bankv1.AddPayeeRequest{Account: "accounts/alice-checking", DisplayName: strings.Repeat("x", 65), Iban: "DE89370400440532013000"}, codes.InvalidArgument},
		{"short iban", &bankv1.AddPayeeRequest{Account: "accounts/alice-checking", DisplayName: "x", Iban: "DE89"}, codes.InvalidArgument},
		{"lower-case iban", &bankv1.AddPayeeRequest{Account: "accounts/alice-checking", DisplayName: "x", Iban: "de89370400440532013000"}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.AddPayee(ctx, tt.req)
			if status.Code(err) != tt.code {
				t.Fatalf("AddPayee(%v) = %v, want %v", tt.req, err, tt.code)
			}
		})
	}
}

func TestAddPayeeBounded(t *testing.T) {
	f := start(t)
	ctx := testContext(t)
	req := &bankv1.AddPayeeRequest{Account: "accounts/bob-checking", DisplayName: "x", Iban: "DE89370400440532013000"}
	for i := range 100 {
		if _, err := f.client.AddPayee(ctx, req); err != nil {
			t.Fatalf("AddPayee #%d: %v", i+1, err)
		}
	}
	if _, err := f.client.AddPayee(ctx, req); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("AddPayee #101 = %v, want ResourceExhausted", err)
	}
}
