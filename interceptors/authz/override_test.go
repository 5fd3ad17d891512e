package authz

import (
	"testing"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

func TestOverrides(t *testing.T) {
	reg := bankRegistry(t)
	b := bankBundle()
	b.Overrides = map[string]*policy.Override{
		bankv1.BankService_GetAccount_FullMethodName:     {Disabled: true},
		bankv1.BankService_ListAccounts_FullMethodName:   {Permissions: []string{"bank.audit.read"}},
		bankv1.BankService_CreateTransfer_FullMethodName: {Condition: "request.currency == 'EUR'", RateLimit: &policy.RateLimit{Rate: 1, Period: time.Minute}},
		bankv1.BankService_Ping_FullMethodName:           {Disabled: true},
	}
	e, err := NewEngine(reg, b)
	if err != nil {
		t.Fatalf("NewEngine() = %v", err)
	}
	teller := &policy.Principal{ID: "t", Kind: policy.KindUser, Credential: policy.CredentialJWT, Roles: []string{"teller"}}
	both := &policy.Principal{ID: "t", Kind: policy.KindUser, Credential: policy.CredentialJWT, Roles: []string{"teller", "auditor"}}
	lookup := func(name string) *policy.Method { m, _ := reg.Lookup(name); return m }
	tests := []struct {
		name   string
		method string
		in     Input
		failed string
	}{
		{"disabled", bankv1.BankService_GetAccount_FullMethodName, Input{Principal: teller}, FailedDisabled},
		{"disabled public", bankv1.BankService_Ping_FullMethodName, Input{}, FailedDisabled},
		{"extra permission missing", bankv1.BankService_ListAccounts_FullMethodName, Input{Principal: teller}, FailedPermission},
		{"extra permission held", bankv1.BankService_ListAccounts_FullMethodName, Input{Principal: both}, ""},
		{"extra condition holds", bankv1.BankService_CreateTransfer_FullMethodName, Input{Principal: teller, Request: &bankv1.CreateTransferRequest{AmountCents: 5, Currency: "EUR"}}, ""},
		{"extra condition fails", bankv1.BankService_CreateTransfer_FullMethodName, Input{Principal: teller, Request: &bankv1.CreateTransferRequest{AmountCents: 5, Currency: "USD"}}, FailedCondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := e.Decide(lookup(tt.method), &tt.in)
			if v.Failed != tt.failed || v.Allowed != (tt.failed == "") {
				t.Errorf("Decide(%s) = %+v, want failed %q", tt.name, v, tt.failed)
			}
		})
	}
	m := lookup(bankv1.BankService_CreateTransfer_FullMethodName)
	em := e.Effective(m)
	if em == m || em.RateLimit.Rate != 1 || m.RateLimit.Rate != 60 {
		t.Errorf("Effective(CreateTransfer) rate = %d (compiled %d), want an overridden copy with 1", em.RateLimit.Rate, m.RateLimit.Rate)
	}
	if v := e.Decide(em, &Input{Principal: teller, Request: &bankv1.CreateTransferRequest{AmountCents: 5, Currency: "EUR"}}); !v.Allowed {
		t.Errorf("Decide(effective copy) = %+v, want allowed (the copy shares the plan)", v)
	}
	if got := e.Effective(lookup(bankv1.BankService_Ping_FullMethodName)); got != lookup(bankv1.BankService_Ping_FullMethodName) {
		t.Errorf("Effective(Ping) returned a copy, want the compiled method")
	}
}
