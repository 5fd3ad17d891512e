package policygen_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/policygen"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden generates from testdata/golden (every option is used there)
// and compares each output with its .golden file byte for byte.
func TestGolden(t *testing.T) {
	const root = "testdata/golden"
	files := compile(t, nil, []string{root, optionsDir}, "acme/shop/v1/shop.proto", "acme/perms/v1/perms.proto")
	req := request(files, "paths=source_relative", "acme/perms/v1/perms.proto", "acme/shop/v1/shop.proto")
	out, err := run(t, req, policygen.Params{Catalog: "permissions.json", GRPCGateway: true})
	if err != nil {
		t.Fatalf("Generate() = %v, want nil", err)
	}
	want := []string{"acme/perms/v1/perms.portcullis.go", "acme/shop/v1/shop.portcullis.go", "permissions.json"}
	if len(out) != len(want) {
		names := []string{}
		for n := range out {
			names = append(names, n)
		}
		t.Fatalf("Generate() wrote %v, want %v", names, want)
	}
	for _, name := range want {
		got, ok := out[name]
		if !ok {
			t.Fatalf("Generate() did not write %s", name)
		}
		golden := filepath.Join(root, "out", name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if wantText := readFile(t, golden); got != wantText {
			t.Errorf("%s differs from %s; run go test ./policygen -update and review the diff\n--- got ---\n%s", name, golden, got)
		}
	}
}

// TestDeterministic runs the plugin twice on the same input and requires
// identical output.
func TestDeterministic(t *testing.T) {
	const root = "testdata/golden"
	files := compile(t, nil, []string{root, optionsDir}, "acme/shop/v1/shop.proto")
	req := request(files, "", "acme/perms/v1/perms.proto", "acme/shop/v1/shop.proto")
	a, err := run(t, req, policygen.Params{Catalog: "c.json", GRPCGateway: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := run(t, req, policygen.Params{Catalog: "c.json", GRPCGateway: true})
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		if a[name] != b[name] {
			t.Errorf("output %s differs between two runs", name)
		}
	}
}
