package bundle_test

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/bundle"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

const fuzzBundle = `version: "2026-12-01.1"
author: alice@example.com
message: fuzz seed
roles:
  teller:
    permissions: [bank.accounts.read, bank.transfers.create]
  quotes-acme:
    permissions: [bank.quotes.read]
    condition: "principal.tenant == 'acme'"
bindings:
  - roles: [teller]
    users: [teller-1]
    groups: [tellers]
    services: [reporting-bot]
    spiffe: [spiffe://portcullis.local/user/teller]
api_keys:
  - id: k7f3q2m7x4wb
    hash: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    principal: reporting-bot
    kind: service
    roles: [teller]
    scopes: [bank.accounts.read]
    tenant: acme
    expires: 2027-01-01T00:00:00Z
    cidrs: [10.0.0.0/8]
`

var fuzzKeyID = regexp.MustCompile(`^[a-z2-7]{12}$`)

// FuzzParse feeds arbitrary bytes to Parse against the bank example's
// permission catalog. Invariants: no panic; an error comes with a nil
// bundle, again on a second parse, and every line of it names the file; a bundle
// that loads has a version, grants only catalog permissions that are not
// internal, binds only roles it defines, and holds well-formed key ids.
// Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	reg, err := policy.NewRegistry(bankv1.File_examples_bank_v1_bank_proto_policy)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := bundle.Parse("fuzz.yaml", []byte(fuzzBundle), reg); err != nil {
		f.Fatalf("Parse(seed) = %v, want nil", err)
	}
	f.Add([]byte(fuzzBundle))
	f.Add([]byte("version: v1\nroles: {a: {permissions: [bank.ledger.reconcile]}}\n"))
	f.Add([]byte("version: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := bundle.Parse("fuzz.yaml", data, reg)
		if err != nil {
			if b != nil {
				t.Fatalf("Parse() = %+v, %v, want a nil bundle with the error", b, err)
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "bundle: fuzz.yaml") {
					t.Fatalf("Parse() error line %q, want prefix %q", line, "bundle: fuzz.yaml")
				}
			}
			// The text may differ between runs: with several unknown keys,
			// go-yaml reports whichever its map iteration meets first.
			if _, again := bundle.Parse("fuzz.yaml", data, reg); again == nil {
				t.Fatalf("Parse() twice = %v, then nil, want an error again", err)
			}
			return
		}
		if strings.TrimSpace(b.Version) == "" {
			t.Fatalf("Parse() = version %q, nil error, want a version", b.Version)
		}
		for name, r := range b.Roles {
			for _, p := range r.Permissions {
				if perm, ok := reg.Permission(p); !ok || perm.Internal {
					t.Fatalf("Parse() role %q grants %q, not a grantable catalog permission", name, p)
				}
			}
		}
		for _, bd := range b.Bindings {
			for _, r := range bd.Roles {
				if _, ok := b.Roles[r]; !ok {
					t.Fatalf("Parse() binds undefined role %q", r)
				}
			}
		}
		for id, k := range b.APIKeys {
			if id != k.ID || !fuzzKeyID.MatchString(id) || k.Principal == "" {
				t.Fatalf("Parse() API key %q = %+v, want a well-formed id and a principal", id, k)
			}
			if slices.ContainsFunc(k.CIDRs, func(p netip.Prefix) bool { return !p.IsValid() }) {
				t.Fatalf("Parse() API key %q has an invalid CIDR: %v", id, k.CIDRs)
			}
		}
	})
}
