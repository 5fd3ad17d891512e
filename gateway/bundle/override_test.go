package bundle

import (
	"strings"
	"testing"
	"time"
)

func TestOverrides(t *testing.T) {
	const head = "version: v1\noverrides:\n"
	b, err := Parse("b.yaml", []byte(head+`  /examples.bank.v1.BankService/CreateTransfer:
    permissions: [bank.transfers.create, bank.transfers.large]
    condition: "context.transport == 'grpc'"
    rate_limit: {per_minute: 30, burst: 5}
  /examples.bank.v1.BankService/CloseAccount:
    disabled: true
  /examples.bank.v1.BankService/GetAccount:
    rate_limit: {per_second: 5}
`), registry(t))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	tr := b.Overrides["/examples.bank.v1.BankService/CreateTransfer"]
	if tr == nil || len(tr.Permissions) != 1 || tr.Permissions[0] != "bank.transfers.large" || tr.RateLimit.Rate != 30 || tr.RateLimit.Period != time.Minute || tr.Condition == "" {
		t.Errorf("override CreateTransfer = %+v, want +bank.transfers.large, 30/min, a condition", tr)
	}
	if !b.Overrides["/examples.bank.v1.BankService/CloseAccount"].Disabled {
		t.Errorf("override CloseAccount not disabled")
	}
	if g := b.Overrides["/examples.bank.v1.BankService/GetAccount"]; g.RateLimit == nil || g.RateLimit.Rate != 5 {
		t.Errorf("override GetAccount = %+v, want an added limit", g)
	}

	for _, tt := range []struct{ name, src, want string }{
		{"make public", "  /examples.bank.v1.BankService/GetAccount: {public: true}\n",
			`b.yaml:3: overrides."/examples.bank.v1.BankService/GetAccount".public: would make the protected method`},
		{"drop permission", "  /examples.bank.v1.BankService/CreateTransfer: {permissions: [bank.transfers.large]}\n",
			`would drop the compiled permission "bank.transfers.create"`},
		{"raise rate", "  /examples.bank.v1.BankService/CreateTransfer: {rate_limit: {per_minute: 61, burst: 10}}\n",
			"would raise the limit above the compiled 60 per 1m0s"},
		{"raise rate via period", "  /examples.bank.v1.BankService/CreateTransfer: {rate_limit: {per_second: 2}}\n",
			"would raise the limit above the compiled"},
		{"raise burst", "  /examples.bank.v1.BankService/CreateTransfer: {rate_limit: {per_minute: 60, burst: 11}}\n",
			"would raise the burst above the compiled 10"},
		{"unknown method", "  /examples.bank.v1.BankService/Nope: {disabled: true}\n", `unknown method "/examples.bank.v1.BankService/Nope"`},
		{"unknown key", "  /examples.bank.v1.BankService/GetAccount: {enabled: true}\n", `unknown field "enabled"`},
		{"internal permission", "  /examples.bank.v1.BankService/GetAccount: {permissions: [bank.accounts.read, bank.ledger.reconcile]}\n", `permission "bank.ledger.reconcile" is internal`},
		{"two rates", "  /examples.bank.v1.BankService/GetAccount: {rate_limit: {per_second: 1, per_minute: 1}}\n", "set exactly one positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(head+tt.src), registry(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
