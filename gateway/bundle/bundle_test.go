package bundle

import (
	"fmt"
	"strings"
	"testing"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

func registry(t *testing.T) *policy.Registry {
	t.Helper()
	reg, err := policy.NewRegistry(bankv1.File_examples_bank_v1_bank_proto_policy)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

const hash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestParseValid(t *testing.T) {
	src := `version: v1
author: a@example.com
message: test
roles:
  teller:
    permissions: [bank.accounts.read, bank.transfers.create]
  acme:
    permissions: [bank.quotes.read]
    condition: "principal.tenant == 'acme'"
bindings:
  - roles: [teller]
    users: [teller-1]
    groups: [tellers]
    spiffe: [spiffe://portcullis.local/user/teller]
api_keys:
  - id: abcdefghijk2
    hash: ` + hash + `
    principal: bot
    roles: [teller]
    scopes: [bank.accounts.read]
    expires: 2027-01-01T00:00:00Z
    cidrs: [10.1.2.3/8]
`
	b, err := Parse("b.yaml", []byte(src), registry(t))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	if b.Version != "v1" || len(b.Roles) != 2 || b.Roles["acme"].Condition == "" || len(b.Bindings) != 1 {
		t.Errorf("Parse() = %+v, want version v1, 2 roles, 1 binding", b)
	}
	k, ok := b.APIKey("abcdefghijk2")
	if !ok || k.Kind != policy.KindService || k.CIDRs[0].String() != "10.0.0.0/8" || k.ExpiresAt.Year() != 2027 || fmt.Sprintf("%x", k.Hash[:2]) != "9f86" {
		t.Errorf("APIKey() = %+v, want service key, masked CIDR, 2027 expiry, hash", k)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", "version: v1\nrolez: {}\n", `unknown field "rolez"`},
		{"missing version", "roles: {}\n", "bundle: b.yaml: version: required"},
		{"unknown permission", "version: v1\nroles:\n  teller:\n    permissions: [bank.accounts.read, bank.transfer.create]\n",
			`bundle: b.yaml:4: roles.teller.permissions[1]: unknown permission "bank.transfer.create"`},
		{"internal permission", "version: v1\nroles:\n  ops:\n    permissions: [bank.ledger.reconcile]\n",
			`bundle: b.yaml:4: roles.ops.permissions[0]: permission "bank.ledger.reconcile" is internal`},
		{"empty role", "version: v1\nroles:\n  ops:\n    permissions: []\n", "roles.ops: role grants no permissions"},
		{"unknown role", "version: v1\nroles:\n  a: {permissions: [bank.accounts.read]}\nbindings:\n  - roles: [b]\n    users: [x]\n",
			`bundle: b.yaml:5: bindings[0].roles[0]: unknown role "b"`},
		{"no subject", "version: v1\nroles:\n  a: {permissions: [bank.accounts.read]}\nbindings:\n  - roles: [a]\n", "bindings[0]: binding names no subject"},
		{"bad spiffe", "version: v1\nroles:\n  a: {permissions: [bank.accounts.read]}\nbindings:\n  - roles: [a]\n    spiffe: [teller]\n", `bindings[0].spiffe[0]: "teller" is not a SPIFFE ID`},
		{"plain key", "version: v1\napi_keys:\n  - id: abcdefghijk2\n    hash: pcs_abcdefghijk2_secret\n    principal: bot\n", "api_keys[0].hash: want sha256:<64 hex digits>"},
		{"bad key id", "version: v1\napi_keys:\n  - id: NOPE\n    hash: " + hash + "\n    principal: bot\n", `api_keys[0].id: invalid key id "NOPE"`},
		{"duplicate key", "version: v1\napi_keys:\n  - {id: abcdefghijk2, hash: " + hash + ", principal: a}\n  - {id: abcdefghijk2, hash: " + hash + ", principal: b}\n", `api_keys[1].id: API key "abcdefghijk2" listed twice`},
		{"bad expiry", "version: v1\napi_keys:\n  - {id: abcdefghijk2, hash: " + hash + ", principal: a, expires: tomorrow}\n", `api_keys[0].expires: invalid time "tomorrow"`},
		{"bad cidr", "version: v1\napi_keys:\n  - {id: abcdefghijk2, hash: " + hash + ", principal: a, cidrs: [10.0.0.0/99]}\n", `api_keys[0].cidrs[0]: invalid CIDR "10.0.0.0/99"`},
		{"unknown scope", "version: v1\napi_keys:\n  - {id: abcdefghijk2, hash: " + hash + ", principal: a, scopes: [nope.nope]}\n", `api_keys[0].scopes[0]: unknown permission "nope.nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(tt.src), registry(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
