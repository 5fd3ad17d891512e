// Package e2e tests Portcullis end to end: the real gateway binary and real
// backend binaries run as processes on loopback, and real clients (grpc-go,
// curl, grpcurl) call them over TLS.
//
// TestMain builds the binaries once (cmd/portcullis, the bank demo backend
// and e2e/internal/interopserver) and creates a development PKI with
// `portcullis dev certs`. The shared processes (topology_test.go) start on
// first use and stop when the package's tests are done.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// env is what TestMain prepares. It is read-only once tests run.
var env struct {
	root  string // temporary directory of the run
	bin   string // built binaries
	certs string // `portcullis dev certs` output
	// interopSet and interopPolicy are the descriptor set of
	// grpc/testing/test.proto and its policy file, for the gateway's
	// descriptors key.
	interopSet    string
	interopPolicy string
}

// Binaries built by TestMain: name → package, relative to the module root.
var binaries = map[string]string{
	"portcullis":    "./cmd/portcullis",
	"bank-backend":  "./examples/bank/cmd/bank-backend",
	"interopserver": "./e2e/internal/interopserver",
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := os.MkdirTemp("", "portcullis-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(root)
	if err := setup(root); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setup:", err)
		return 1
	}
	code := m.Run()
	stopShared()
	return code
}

func setup(root string) error {
	env.root = root
	env.bin = filepath.Join(root, "bin")
	env.certs = filepath.Join(root, "certs")
	if err := buildBinaries(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, binPath("portcullis"), "dev", "certs", env.certs).CombinedOutput(); err != nil {
		return fmt.Errorf("portcullis dev certs: %v\n%s", err, out)
	}
	return writeInteropDescriptors(root)
}

// buildBinaries builds every binary in parallel (no race detector: the
// processes are under test, not the test code).
func buildBinaries() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	modRoot, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(binaries))
	for name, pkg := range binaries {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath(name), pkg)
			cmd.Dir = modRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // nil if the channel is empty
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD = %q, want the module's go.mod", gomod)
	}
	return filepath.Dir(gomod), nil
}

func binPath(name string) string { return filepath.Join(env.bin, name) }

func certPath(name string) string { return filepath.Join(env.certs, name) }

// interopPolicyYAML makes every TestService method public.
const interopPolicyYAML = `services:
  grpc.testing.TestService:
    default: {public: {reason: "interop test fixture"}}
`

// writeInteropDescriptors writes grpc/testing/test.proto and its imports,
// transitively, as a FileDescriptorSet (dependencies first), and its policy.
func writeInteropDescriptors(root string) error {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(testpb.File_grpc_testing_test_proto)
	data, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	env.interopSet = filepath.Join(root, "interop.binpb")
	env.interopPolicy = filepath.Join(root, "interop-policy.yaml")
	if err := os.WriteFile(env.interopSet, data, 0o644); err != nil {
		return err
	}
	return os.WriteFile(env.interopPolicy, []byte(interopPolicyYAML), 0o644)
}
