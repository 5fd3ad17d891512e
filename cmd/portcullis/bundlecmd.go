package main

import (
	"fmt"
	"io"

	"github.com/portcullis/portcullis/gateway/bundle"
	"github.com/portcullis/portcullis/policy"
)

// policyValidate checks a bundle against the compiled permission catalog.
// Exit code 0: valid; 1: invalid (every problem printed, one per line).
func policyValidate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: portcullis policy validate BUNDLE")
		return 2
	}
	reg, err := policy.NewRegistry(policy.Tables()...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	b, err := bundle.Load(args[0], reg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid (version %s, %d roles, %d bindings, %d API keys)\n", args[0], b.Version, len(b.Roles), len(b.Bindings), len(b.APIKeys))
	return 0
}

// policyHashKey creates a new API key and prints it with the bundle entry
// holding its hash. The key itself is shown once and stored nowhere.
func policyHashKey(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: portcullis policy hash-key")
		return 2
	}
	key, id, hash, err := policy.NewAPIKey()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "key (give it to the client; it is not stored): %s\n\nbundle entry:\n  - id: %s\n    hash: sha256:%x\n    principal: CHANGE-ME\n    roles: []\n", key, id, hash)
	return 0
}
