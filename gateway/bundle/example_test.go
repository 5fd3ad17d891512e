package bundle_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/portcullis/portcullis/gateway/bundle"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
)

func ExampleSign() {
	pub, priv, _ := bundle.GenerateKey()
	data := []byte("version: v1\n")
	sig := bundle.Sign(data, priv) // store as bundle.yaml.sig
	trusted := []ed25519.PublicKey{pub}

	fmt.Println("valid:", bundle.Verify(data, sig, trusted))
	fmt.Println("tampered:", errors.Is(bundle.Verify([]byte("version: v2\n"), sig, trusted), bundle.ErrBadSignature))
	fmt.Println("unsigned:", errors.Is(bundle.Verify(data, nil, trusted), bundle.ErrUnsigned))
	// Output:
	// valid: <nil>
	// tampered: true
	// unsigned: true
}

func ExampleNewManager() {
	dir, _ := os.MkdirTemp("", "bundle")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bundle.yaml")
	write := func(version string) {
		_ = os.WriteFile(path+".tmp", []byte("version: "+version+"\nroles:\n  teller: {permissions: [bank.accounts.read]}\n"), 0o644)
		_ = os.Rename(path+".tmp", path) // atomic replacement
	}
	write("v1")

	reg, _ := policy.NewRegistry(bankv1.File_examples_bank_v1_bank_proto_policy)
	comp := authz.NewCompiler() // shared: unchanged conditions are not compiled again
	var engine atomic.Pointer[authz.Engine]
	m, err := bundle.NewManager(bundle.File(path), reg,
		func(b *policy.Bundle) (any, error) { return authz.NewEngine(reg, b, authz.WithCompiler(comp)) },
		func(b *policy.Bundle, c any) { engine.Store(c.(*authz.Engine)) },
		bundle.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("active:", engine.Load().Version())

	write("v2")
	_ = m.Reload(ctx) // the watcher would do it too; Reload makes the example deterministic
	fmt.Println("active:", engine.Load().Version())

	_ = os.WriteFile(path, []byte("version: v3\nrolez: {}\n"), 0o644)
	fmt.Println("rejected:", m.Reload(ctx) != nil, "active:", engine.Load().Version())

	_ = m.Rollback()
	fmt.Println("after rollback:", engine.Load().Version(), "pinned:", m.Status().Pinned)
	// Output:
	// active: v1
	// active: v2
	// rejected: true active: v2
	// after rollback: v1 pinned: true
}
