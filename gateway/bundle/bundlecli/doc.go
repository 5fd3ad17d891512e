// Package bundlecli implements the `portcullis policy test` and
// `portcullis policy diff` commands over policy bundles, as functions that
// cmd/portcullis calls with its arguments and output streams:
//
//	portcullis policy test BUNDLE TESTS [-v]
//	portcullis policy diff OLD NEW [--audit FILE...] [--since 720h] [--json]
//
// Both evaluate bundles with the same engine the gateway uses
// (authz.NewEngine over the compiled policy tables), never by comparing
// text. Exit codes: 0 success (every test case passed; the diff was
// computed), 1 failure (a case failed, or an input is invalid: every
// problem is printed with its file and line), 2 usage.
//
// A test suite is strict YAML (an unknown key is an error naming its
// line):
//
//	cases:
//	  - name: tellers read accounts
//	    principal: {id: teller-1, roles: [teller]}   # kind user, credential jwt by default
//	    method: /examples.bank.v1.BankService/GetAccount
//	    request: {name: accounts/a}                  # protojson of the request message
//	    expect: allow
//	  - name: large transfers need bank.transfers.large
//	    claims: {sub: teller-1, roles: [teller]}     # token claims instead of a principal
//	    method: /examples.bank.v1.BankService/CreateTransfer
//	    request: {account: accounts/a, amount_cents: 2000000}
//	    expect: deny
//	    reason: condition                            # a failed requirement or a substring of the reason
//
// The diff lists, for every role and every subject named in either bundle
// (users, groups, services, SPIFFE IDs, API keys), the methods gained and
// lost. Methods whose access depends on a CEL condition (of the role or of
// the method) are reported as "conditional"; mTLS and certificate-bound
// token requirements are treated as satisfiable. With --audit, JSON-lines
// audit records of the window are replayed against NEW to list the real
// callers that would now be denied.
package bundlecli
