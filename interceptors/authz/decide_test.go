package authz

import (
	"fmt"
	"testing"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

func bankRegistry(t testing.TB) *policy.Registry {
	t.Helper()
	reg, err := policy.NewRegistry(bankv1.File_examples_bank_v1_bank_proto_policy)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func bankBundle() *policy.Bundle {
	return &policy.Bundle{
		Version: "test-1",
		Roles: map[string]*policy.Role{
			"teller":   {Name: "teller", Permissions: []string{"bank.accounts.read", "bank.accounts.list", "bank.transfers.create", "bank.transactions.read"}},
			"auditor":  {Name: "auditor", Permissions: []string{"bank.audit.read", "bank.accounts.read"}},
			"customer": {Name: "customer", Permissions: []string{"bank.accounts.read", "bank.transactions.read"}},
			"big":      {Name: "big", Permissions: []string{"bank.transfers.large"}},
			"daytime":  {Name: "daytime", Permissions: []string{"bank.quotes.read"}, Condition: "principal.tenant == 'acme'"},
			"closer":   {Name: "closer", Permissions: []string{"bank.accounts.close"}},
		},
		Bindings: []policy.Binding{
			{Roles: []string{"auditor"}, Users: []string{"audrey"}},
			{Roles: []string{"customer"}, Groups: []string{"customers"}},
			{Roles: []string{"teller"}, SPIFFE: []string{"spiffe://portcullis.local/user/teller"}},
		},
		Grants: []policy.Grant{{Subject: "spiffe://portcullis.local/svc/ledger", Permissions: []string{"bank.ledger.reconcile"}}},
	}
}

func TestDecide(t *testing.T) {
	reg := bankRegistry(t)
	e, err := NewEngine(reg, bankBundle())
	if err != nil {
		t.Fatalf("NewEngine() = %v", err)
	}
	jwt := func(id string, mod func(*policy.Principal)) *policy.Principal {
		p := &policy.Principal{ID: id, Kind: policy.KindUser, Credential: policy.CredentialJWT}
		if mod != nil {
			mod(p)
		}
		return p
	}
	small := &bankv1.CreateTransferRequest{Account: "accounts/a", AmountCents: 5000}
	large := &bankv1.CreateTransferRequest{Account: "accounts/a", AmountCents: 2000000}
	tests := []struct {
		name   string
		method string
		in     Input
		allow  bool
		failed string
		role   string
	}{
		{"public", bankv1.BankService_Ping_FullMethodName, Input{}, true, "", ""},
		{"anonymous", bankv1.BankService_GetAccount_FullMethodName, Input{}, false, FailedUnauthentic, ""},
		{"claim role", bankv1.BankService_GetAccount_FullMethodName, Input{Principal: jwt("t1", func(p *policy.Principal) { p.Roles = []string{"teller"} })}, true, "", "teller"},
		{"user binding", bankv1.BankService_ListTransactions_FullMethodName, Input{Principal: jwt("audrey", nil)}, true, "", "auditor"},
		{"group binding", bankv1.BankService_GetAccount_FullMethodName, Input{Principal: jwt("c1", func(p *policy.Principal) { p.Groups = []string{"customers"} })}, true, "", "customer"},
		{"spiffe binding", bankv1.BankService_ListAccounts_FullMethodName, Input{Principal: &policy.Principal{ID: "spiffe://portcullis.local/user/teller", SPIFFEID: "spiffe://portcullis.local/user/teller", Kind: policy.KindUser, Credential: policy.CredentialMTLS, MTLS: true}}, true, "", "teller"},
		{"unknown user", bankv1.BankService_GetAccount_FullMethodName, Input{Principal: jwt("nobody", nil)}, false, FailedPermission, ""},
		{"missing permission", bankv1.BankService_ListAccounts_FullMethodName, Input{Principal: jwt("audrey", nil)}, false, FailedPermission, ""},
		{"scopes narrow", bankv1.BankService_ListAccounts_FullMethodName, Input{Principal: jwt("t1", func(p *policy.Principal) {
			p.Roles, p.Scopes, p.HasScopes = []string{"teller"}, []string{"bank.accounts.read"}, true
		})}, false, FailedPermission, ""},
		{"scopes allow", bankv1.BankService_GetAccount_FullMethodName, Input{Principal: jwt("t1", func(p *policy.Principal) {
			p.Roles, p.Scopes, p.HasScopes = []string{"teller"}, []string{"bank.accounts.read"}, true
		})}, true, "", "teller"},
		{"condition true", bankv1.BankService_CreateTransfer_FullMethodName, Input{Request: small, Principal: jwt("t1", func(p *policy.Principal) { p.Roles = []string{"teller"} })}, true, "", "teller"},
		{"condition false", bankv1.BankService_CreateTransfer_FullMethodName, Input{Request: large, Principal: jwt("t1", func(p *policy.Principal) { p.Roles = []string{"teller"} })}, false, FailedCondition, ""},
		{"condition via permission", bankv1.BankService_CreateTransfer_FullMethodName, Input{Request: large, Principal: jwt("t1", func(p *policy.Principal) { p.Roles = []string{"teller", "big"} })}, true, "", "teller"},
		{"condition without request", bankv1.BankService_CreateTransfer_FullMethodName, Input{Principal: jwt("t1", func(p *policy.Principal) { p.Roles = []string{"teller"} })}, false, FailedCondition, ""},
		{"credential kind", bankv1.BankService_Reconcile_FullMethodName, Input{Principal: jwt("spiffe://portcullis.local/svc/ledger", nil)}, false, FailedCredential, ""},
		{"internal grant over mTLS", bankv1.BankService_Reconcile_FullMethodName, Input{Principal: &policy.Principal{ID: "spiffe://portcullis.local/svc/ledger", SPIFFEID: "spiffe://portcullis.local/svc/ledger", Kind: policy.KindService, Credential: policy.CredentialMTLS, MTLS: true}}, true, "", "grant"},
		{"mtls required", bankv1.BankService_ImportTransactions_FullMethodName, Input{Principal: &policy.Principal{ID: "x", Kind: policy.KindService, Credential: policy.CredentialMTLS}}, false, FailedMTLS, ""},
		{"bound token required", bankv1.BankService_CloseAccount_FullMethodName, Input{Principal: jwt("t1", func(p *policy.Principal) { p.Roles, p.MTLS = []string{"closer"}, true })}, false, FailedBoundToken, ""},
		{"bound token", bankv1.BankService_CloseAccount_FullMethodName, Input{Principal: jwt("t1", func(p *policy.Principal) { p.Roles, p.MTLS, p.Bound = []string{"closer"}, true, true })}, true, "", "closer"},
		{"any-of second", bankv1.BankService_ListTransactions_FullMethodName, Input{Principal: jwt("x", func(p *policy.Principal) { p.Roles = []string{"auditor"} })}, true, "", "auditor"},
		{"role condition holds", bankv1.BankService_QuoteStream_FullMethodName, Input{Principal: jwt("x", func(p *policy.Principal) { p.Roles, p.Tenant = []string{"daytime"}, "acme" })}, true, "", "daytime"},
		{"role condition fails", bankv1.BankService_QuoteStream_FullMethodName, Input{Principal: jwt("x", func(p *policy.Principal) { p.Roles, p.Tenant = []string{"daytime"}, "other" })}, false, FailedPermission, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := reg.Lookup(tt.method)
			if !ok {
				t.Fatalf("no method %s", tt.method)
			}
			tt.in.Time = time.Unix(1e9, 0)
			v := e.Decide(m, &tt.in)
			if v.Allowed != tt.allow || v.Failed != tt.failed || (tt.role != "" && v.MatchedRole != tt.role) {
				t.Errorf("Decide(%s) = %+v, want allowed=%v failed=%q role=%q", tt.name, v, tt.allow, tt.failed, tt.role)
			}
			d := e.Explain(m, &tt.in)
			if d.Allowed != tt.allow || d.FailedRequirement != tt.failed || d.BundleVersion != "test-1" || d.Reason == "" {
				t.Errorf("Explain(%s) = %+v, want the same verdict with a reason", tt.name, d)
			}
		})
	}
}

func TestExplainTrace(t *testing.T) {
	reg := bankRegistry(t)
	e, _ := NewEngine(reg, bankBundle())
	m, _ := reg.Lookup(bankv1.BankService_ListAccounts_FullMethodName)
	p := &policy.Principal{ID: "audrey", Kind: policy.KindUser, Credential: policy.CredentialJWT, Groups: []string{"customers"}}
	d := e.Explain(m, &Input{Principal: p})
	want := "missing permission \"bank.accounts.list\" (all of [bank.accounts.list] required)"
	if d.Reason != want || fmt.Sprint(d.Roles) != "[auditor customer]" ||
		fmt.Sprint(d.Effective) != "[bank.accounts.read bank.audit.read bank.transactions.read]" {
		t.Errorf("Explain() = %+v, want reason %q, roles [auditor customer] and their permissions", d, want)
	}
}

func TestNewEngineErrors(t *testing.T) {
	reg := bankRegistry(t)
	for _, tt := range []struct {
		name string
		b    *policy.Bundle
		want string
	}{
		{"unknown permission", &policy.Bundle{Roles: map[string]*policy.Role{"r": {Permissions: []string{"nope.nope"}}}}, `authz: role r: unknown permission "nope.nope"`},
		{"bad role condition", &policy.Bundle{Roles: map[string]*policy.Role{"r": {Permissions: []string{"bank.accounts.read"}, Condition: "request.x"}}}, "authz: role r: condition:"},
		{"unknown role", &policy.Bundle{Bindings: []policy.Binding{{Roles: []string{"ghost"}}}}, `authz: bindings[0]: unknown role "ghost"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine(reg, tt.b)
			if err == nil || len(err.Error()) < len(tt.want) || err.Error()[:len(tt.want)] != tt.want {
				t.Errorf("NewEngine() = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// TestSubjectAcrossBindings: a subject bound by several bindings holds the
// roles of all of them. Decide skips a subject whose roles' union lacks the
// permission, so the union must cover every binding, and a conditional
// role inside it is still evaluated, not granted by the union.
func TestSubjectAcrossBindings(t *testing.T) {
	reg := bankRegistry(t)
	b := bankBundle()
	b.Bindings = append(b.Bindings,
		policy.Binding{Roles: []string{"closer"}, Users: []string{"audrey"}},
		policy.Binding{Roles: []string{"teller"}, Groups: []string{"customers"}},
		policy.Binding{Roles: []string{"daytime"}, Groups: []string{"customers"}},
		policy.Binding{Roles: []string{"auditor"}, Services: []string{"svc-a"}},
		policy.Binding{Roles: []string{"closer"}, Services: []string{"svc-a"}},
	)
	e, err := NewEngine(reg, b)
	if err != nil {
		t.Fatalf("NewEngine() = %v", err)
	}
	user := func(id, tenant string, groups ...string) *policy.Principal {
		return &policy.Principal{ID: id, Kind: policy.KindUser, Credential: policy.CredentialJWT, Tenant: tenant, Groups: groups}
	}
	svc := &policy.Principal{ID: "svc-a", Kind: policy.KindService, Credential: policy.CredentialJWT, MTLS: true, Bound: true}
	tests := []struct {
		name   string
		method string
		p      *policy.Principal
		allow  bool
		role   string
	}{
		{"user, second binding", bankv1.BankService_CloseAccount_FullMethodName, func() *policy.Principal {
			p := user("audrey", "")
			p.MTLS, p.Bound = true, true
			return p
		}(), true, "closer"},
		{"user, first binding", bankv1.BankService_ListTransactions_FullMethodName, user("audrey", ""), true, "auditor"},
		{"user, neither binding", bankv1.BankService_ListAccounts_FullMethodName, user("audrey", ""), false, ""},
		{"group, second binding", bankv1.BankService_ListAccounts_FullMethodName, user("c1", "", "customers"), true, "teller"},
		{"group, conditional role holds", bankv1.BankService_QuoteStream_FullMethodName, user("c1", "acme", "customers"), true, "daytime"},
		{"group, conditional role fails", bankv1.BankService_QuoteStream_FullMethodName, user("c1", "other", "customers"), false, ""},
		{"group, no role holds it", bankv1.BankService_Reconcile_FullMethodName, user("c1", "", "customers"), false, ""},
		// customers' union is customer's permissions plus teller's; the
		// customer role itself must not have gained teller's.
		{"a role is not widened by a union", bankv1.BankService_ListAccounts_FullMethodName, func() *policy.Principal {
			p := user("c2", "")
			p.Roles = []string{"customer"}
			return p
		}(), false, ""},
		{"service, second binding", bankv1.BankService_CloseAccount_FullMethodName, svc, true, "closer"},
		{"service, neither binding", bankv1.BankService_ListAccounts_FullMethodName, svc, false, ""},
		{"service, first binding", bankv1.BankService_ListTransactions_FullMethodName, svc, true, "auditor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := reg.Lookup(tt.method)
			if !ok {
				t.Fatalf("no method %s", tt.method)
			}
			in := &Input{Principal: tt.p, Time: time.Unix(1e9, 0)}
			v := e.Decide(m, in)
			if v.Allowed != tt.allow || (tt.role != "" && v.MatchedRole != tt.role) {
				t.Errorf("Decide() = %+v, want allowed=%v role=%q", v, tt.allow, tt.role)
			}
			if d := e.Explain(m, in); d.Allowed != tt.allow {
				t.Errorf("Explain() = %+v, want allowed=%v", d, tt.allow)
			}
		})
	}
}
