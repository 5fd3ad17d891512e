package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/devcerts"
	"github.com/portcullis/portcullis/policy"
)

// persona is one demo caller and the token claims it gets.
type persona struct {
	name, sub string
	claims    map[string]any
	bound     bool // cnf-bound to client-teller.pem
}

var personas = []persona{
	{name: "teller", sub: "teller-1", claims: map[string]any{"roles": []string{"teller"}}},
	{name: "auditor", sub: "audrey"},
	{name: "customer", sub: "alice", claims: map[string]any{"groups": []string{"customers"}}},
	{name: "narrowed", sub: "teller-1", claims: map[string]any{"roles": []string{"teller"}, "scope": "bank.accounts.read"}},
	{name: "bound", sub: "teller-1", claims: map[string]any{"roles": []string{"teller", "closer"}}, bound: true},
	{name: "operator", sub: "olga", claims: map[string]any{"roles": []string{"operator"}}},
}

// writePersonas mints an 8-hour token per persona into dir/tokens, a fresh
// API key for the reporting bot, and the bundle holding its hash.
func writePersonas(dir string, iss *devIssuer, files *devcerts.Files) error {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return err
	}
	for _, p := range personas {
		claims := map[string]any{}
		for k, v := range p.claims {
			claims[k] = v
		}
		if p.bound {
			thumb, err := certThumbprint(files.Clients["user/teller"].Cert)
			if err != nil {
				return err
			}
			claims["cnf"] = map[string]string{"x5t#S256": thumb}
		}
		tok, err := iss.token(p.sub, 8*time.Hour, claims)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tokens, p.name+".jwt"), []byte(tok), 0o600); err != nil {
			return err
		}
	}
	key, id, hash, err := policy.NewAPIKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tokens, "reporting-bot.key"), []byte(key), 0o600); err != nil {
		return err
	}
	pub, err := demoSigningKey(dir)
	if err != nil {
		return err
	}
	indented := "      " + strings.ReplaceAll(strings.TrimSpace(pub), "\n", "\n      ") + "\n"
	return os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte(fmt.Sprintf(demoBundle, id, hash, indented)), 0o600)
}

func printDemoCalls(w io.Writer, files *devcerts.Files, grpcAddr, httpAddr, adminAddr string) {
	d := files.Dir
	// The portcullis commands name this very binary, which need not be on
	// PATH (make demo runs bin/portcullis).
	self, err := os.Executable()
	if err != nil {
		self = "portcullis"
	}
	g := fmt.Sprintf("grpcurl -cacert %s", files.CA.Cert)
	c := fmt.Sprintf("curl -s --cacert %s", files.CA.Cert)
	tok := func(name string) string {
		return fmt.Sprintf(`-H "authorization: Bearer $(cat %s/tokens/%s.jwt)"`, d, name)
	}
	svc := "examples.bank.v1.BankService"
	fmt.Fprintf(w, `
Portcullis demo is running (Ctrl-C to stop).
  gRPC  %[1]s   REST  https://%[2]s   admin  http://%[3]s
  config, bundle, tokens and certificates: %[4]s
Clients: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3 (or: make tools, then PATH=$PWD/bin:$PATH)

Public calls succeed without credentials:
  %[5]s %[1]s list
  %[5]s %[1]s %[6]s/Ping
  %[7]s https://%[2]s/v1/ping

Without credentials, protected calls are refused (Unauthenticated / HTTP 401):
  %[5]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/GetAccount
  %[7]s https://%[2]s/v1/accounts/alice-checking

teller (roles: teller):
  allowed  %[5]s %[8]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/GetAccount
  allowed  %[7]s %[8]s -H 'Content-Type: application/json' https://%[2]s/v1/accounts/alice-checking/transfers -d '{"amount_cents":500,"currency":"EUR","beneficiary":{"name":"Bob","iban":"GB82WEST12345698765432"}}'
  denied   %[7]s %[8]s -H 'Content-Type: application/json' https://%[2]s/v1/accounts/alice-checking/transfers -d '{"amount_cents":2000000,"currency":"EUR"}'   (condition: over 10,000.00)
  denied   %[5]s %[8]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/CloseAccount   (RESTRICTED: needs a bound token over mTLS)
  denied   %[7]s %[8]s -H 'Content-Type: application/json' https://%[2]s/v1/accounts/alice-checking/payees -d '{"display_name":"Landlord","iban":"FR7630006000011234567890189"}'   (AddPayee needs a request signature)
  allowed  %[7]s %[8]s -H 'Content-Type: application/json' -H @<(%[18]s dev sign --key %[4]s/teller-signing-key.pem --keyid teller-1-demo --content-type application/json POST https://%[2]s/v1/accounts/alice-checking/payees '{"display_name":"Landlord","iban":"FR7630006000011234567890189"}') https://%[2]s/v1/accounts/alice-checking/payees -d '{"display_name":"Landlord","iban":"FR7630006000011234567890189"}'   (signed with teller-1's key, RFC 9421; bash or zsh)

auditor (bound to role auditor in the bundle):
  allowed  %[5]s %[9]s -d '{"account":"accounts/bob-checking"}' %[1]s %[6]s/ListTransactions
  allowed  %[7]s %[9]s https://%[2]s/v1/accounts/bob-checking/transactions
  denied   %[5]s %[9]s %[1]s %[6]s/ListAccounts   (PermissionDenied)
  denied   %[7]s %[9]s https://%[2]s/v1/accounts   (PermissionDenied / 403)

customer (group customers):
  allowed  %[7]s %[10]s https://%[2]s/v1/accounts/alice-checking
  allowed  %[5]s %[10]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/GetAccount
  denied   %[7]s %[10]s https://%[2]s/v1/accounts
  denied   %[5]s %[10]s %[1]s %[6]s/ListAccounts

narrowed (teller token with scope bank.accounts.read only):
  allowed  %[5]s %[11]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/GetAccount
  allowed  %[7]s %[11]s https://%[2]s/v1/accounts/alice-checking
  denied   %[5]s %[11]s %[1]s %[6]s/ListAccounts
  denied   %[7]s %[11]s https://%[2]s/v1/accounts

bound (teller token bound to client-teller.pem, RFC 8705):
  allowed  %[5]s -cert %[12]s -key %[13]s %[14]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/CloseAccount   (reaches the bank: balance not zero)
  allowed  %[7]s --cert %[12]s --key %[13]s %[14]s -X POST -H 'Content-Type: application/json' https://%[2]s/v1/accounts/alice-checking:close -d '{}'   (reaches the bank: balance not zero)
  denied   %[5]s %[14]s -d '{"name":"accounts/alice-checking"}' %[1]s %[6]s/CloseAccount   (stolen token without its certificate)
  denied   %[7]s %[14]s -X POST -H 'Content-Type: application/json' https://%[2]s/v1/accounts/alice-checking:close -d '{}'   (stolen token without its certificate)

reporting-bot (API key, role auditor):
  allowed  %[7]s -H "x-api-key: $(cat %[4]s/tokens/reporting-bot.key)" https://%[2]s/v1/accounts/bob-checking/transactions
  allowed  %[5]s -H "x-api-key: $(cat %[4]s/tokens/reporting-bot.key)" -d '{"account":"accounts/bob-checking"}' %[1]s %[6]s/ListTransactions
  denied   %[7]s -H "x-api-key: $(cat %[4]s/tokens/reporting-bot.key)" https://%[2]s/v1/accounts
  denied   %[5]s -H "x-api-key: $(cat %[4]s/tokens/reporting-bot.key)" %[1]s %[6]s/ListAccounts

ledger service (mTLS client certificate, operator grant):
  allowed  %[5]s -cert %[15]s -key %[16]s -d '{"account":"accounts/alice-checking"}' %[1]s %[6]s/Reconcile

operator (role operator: portcullis.admin.read on the admin API, same chain):
  allowed  curl -s %[17]s http://%[3]s/admin/v1/status
  allowed  curl -s %[17]s http://%[3]s/admin/v1/explain -H 'Content-Type: application/json' -d '{"method":"/%[6]s/ListAccounts","principal":{"id":"audrey"}}'
  denied   curl -s %[8]s http://%[3]s/admin/v1/status   (teller: PermissionDenied / 403)

Unknown methods never reach the backend (REST 404; a raw gRPC client gets Unimplemented):
  %[7]s -i https://%[2]s/v1/nope

Inspect:
  %[5]s %[1]s describe %[6]s
  %[7]s https://%[2]s/openapi.json
  curl -s http://%[3]s/metrics | grep portcullis_requests_total
  %[18]s policy show
  %[18]s audit verify %[4]s/audit/*.jsonl
  %[18]s audit review --bundle %[4]s/bundle.yaml --since 1h %[4]s/audit/*.jsonl
  %[18]s policy explain --config %[4]s/gateway.yaml --method /%[6]s/ListTransactions --api-key "$(cut -d_ -f2 %[4]s/tokens/reporting-bot.key)"   (an API key by its id: no secret needed)
  %[18]s policy explain --config %[4]s/gateway.yaml --method /%[6]s/ListAccounts --token "$(cat %[4]s/tokens/auditor.jwt)"
`, grpcAddr, httpAddr, adminAddr, d, g, svc, c, tok("teller"), tok("auditor"), tok("customer"), tok("narrowed"),
		files.Clients["user/teller"].Cert, files.Clients["user/teller"].Key, tok("bound"),
		files.Clients["svc/ledger"].Cert, files.Clients["svc/ledger"].Key, tok("operator"), self)
}
