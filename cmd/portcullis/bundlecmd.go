package main

import (
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"

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

// policySign writes BUNDLE.sig, an Ed25519 signature of the bundle's exact
// bytes, with the private key in KEY (PEM PKCS#8, mode 0600).
func policySign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyPath := fs.String("key", "", "Ed25519 private key (PEM, from `portcullis policy keygen`)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *keyPath == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: portcullis policy sign --key KEY BUNDLE")
		return 2
	}
	key, err := bundle.ReadPrivateKey(*keyPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sigPath := fs.Arg(0) + bundle.SigSuffix
	if err := os.WriteFile(sigPath, bundle.Sign(data, key), 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "signed %s → %s (key %s)\n", fs.Arg(0), sigPath, bundle.KeyID(key.Public().(ed25519.PublicKey)))
	return 0
}

// policyKeygen creates an Ed25519 key pair for signing bundles: PREFIX.key
// (private, 0600) and PREFIX.pub (public, for bundle_trusted_keys).
func policyKeygen(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: portcullis policy keygen PREFIX   (writes PREFIX.key and PREFIX.pub)")
		return 2
	}
	pub, priv, err := bundle.GenerateKey()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := bundle.WritePrivateKey(args[0]+".key", priv); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := bundle.WritePublicKey(args[0]+".pub", pub); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s.key (keep it secret) and %s.pub (key id %s)\n", args[0], args[0], bundle.KeyID(pub))
	return 0
}
