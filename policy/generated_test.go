package policy_test

import (
	"testing"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

// TestGeneratedBankTable compiles against and uses the table generated from
// proto/examples/bank/v1/bank.proto.
func TestGeneratedBankTable(t *testing.T) {
	var table *policy.Table
	for _, tb := range policy.Tables() {
		if tb.File == "examples/bank/v1/bank.proto" {
			table = tb
		}
	}
	if table != bankv1.File_examples_bank_v1_bank_proto_policy {
		t.Fatalf("Tables() does not hold the bank table registered by init")
	}
	reg, err := policy.NewRegistry(table)
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	if got, want := reg.Len(), 11; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}

	ping, ok := reg.Lookup(bankv1.BankService_Ping_FullMethodName)
	if !ok || !ping.Public || ping.PublicReason == "" || ping.RateLimit.Key != policy.KeyClientIP {
		t.Errorf("Lookup(Ping) = %+v, want public with a reason and an IP-keyed limit", ping)
	}

	get, _ := reg.Lookup(bankv1.BankService_GetAccount_FullMethodName)
	if len(get.Permissions) != 1 || get.Permissions[0] != "bank.accounts.read" || get.Resource != "name" {
		t.Errorf("Lookup(GetAccount) = %+v, want service default permission and resource name", get)
	}
	if get.Sensitivity != policy.SensitivityConfidential || get.Credentials != policy.AnyCredential {
		t.Errorf("Lookup(GetAccount) sensitivity %v credentials %v, want confidential/any", get.Sensitivity, get.Credentials)
	}

	tr, _ := reg.Lookup(bankv1.BankService_CreateTransfer_FullMethodName)
	if tr.Condition == "" || !tr.NeedsRequest() || tr.RateLimit.Interval() != time.Second {
		t.Errorf("Lookup(CreateTransfer) = %+v, want a condition, decoded request and 1/s interval", tr)
	}
	if want := []string{"beneficiary.iban", "memo"}; len(tr.SensitiveFields) != 2 || tr.SensitiveFields[0] != want[0] || tr.SensitiveFields[1] != want[1] {
		t.Errorf("CreateTransfer.SensitiveFields = %v, want %v", tr.SensitiveFields, want)
	}

	closeAcct, _ := reg.Lookup(bankv1.BankService_CloseAccount_FullMethodName)
	if !closeAcct.RequireBoundToken || !closeAcct.RequireMTLS || !closeAcct.Audit.Required || closeAcct.Sensitivity != policy.SensitivityRestricted {
		t.Errorf("Lookup(CloseAccount) = %+v, want restricted, bound token, mTLS, required audit", closeAcct)
	}

	quotes, _ := reg.Lookup(bankv1.BankService_QuoteStream_FullMethodName)
	if !quotes.ClientStreaming || !quotes.ServerStreaming || quotes.Stream.MaxConcurrentPerPrincipal != 1 {
		t.Errorf("Lookup(QuoteStream) = %+v, want bidi with a concurrency limit", quotes)
	}

	if p, ok := reg.Permission("bank.ledger.reconcile"); !ok || !p.Internal {
		t.Errorf("Permission(bank.ledger.reconcile) = %+v, want internal", p)
	}
	if _, ok := reg.Lookup("/examples.bank.v1.BankService/Nope"); ok {
		t.Errorf("Lookup(unknown) found a policy, want none")
	}
	if len(table.Services) != 1 || !table.Services[0].HTTP || table.Services[0].RegisterHTTP == nil {
		t.Errorf("Services = %+v, want one with an HTTP registration", table.Services)
	}
}
