package descriptors

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/compile"
)

// writeSet writes grpc/testing/test.proto and its imports as a binary
// FileDescriptorSet, as `buf build -o` would.
func writeSet(t *testing.T) string {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(testgrpc.File_grpc_testing_test_proto)
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "api.binpb")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func only(name string) func(string) bool { return func(s string) bool { return s == name } }

func TestLoad(t *testing.T) {
	set := writeSet(t)
	pol := writePolicy(t, `
permissions:
  - {name: testing.calls.make, description: "Make test calls."}
services:
  grpc.testing.TestService:
    default: {public: {reason: "interop fixture"}}
    methods:
      UnaryCall: {require: {permissions: [testing.calls.make]}, resource: "response_size"}
`)
	s, err := Load(set, pol, nil, only("grpc.testing.TestService"))
	if err != nil {
		t.Fatalf("Load() = %v, want nil", err)
	}
	reg, err := policy.NewRegistry(s.Tables...)
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	unary, ok := reg.Lookup("/grpc.testing.TestService/UnaryCall")
	if !ok || unary.Public || len(unary.Permissions) != 1 {
		t.Errorf("Lookup(UnaryCall) = %+v, want protected by testing.calls.make", unary)
	}
	stream, ok := reg.Lookup("/grpc.testing.TestService/FullDuplexCall")
	if !ok || !stream.Public || !stream.ClientStreaming || !stream.ServerStreaming {
		t.Errorf("Lookup(FullDuplexCall) = %+v, want public bidi", stream)
	}
	if _, err := s.Files.FindFileByPath("grpc/testing/test.proto"); err != nil {
		t.Errorf("Files.FindFileByPath() = %v", err)
	}
	if _, ok := reg.Lookup("/grpc.testing.ReconnectService/Start"); ok {
		t.Errorf("Lookup(ReconnectService) found a policy for a service that is not routed")
	}
}

func TestLoadErrors(t *testing.T) {
	set := writeSet(t)
	tests := []struct {
		name, policy string
		kind         error
		want         string
	}{
		{"no policy", ``, compile.ErrNoPolicy, "service grpc.testing.TestService, method EmptyCall: no policy"},
		{"unknown permission", `services: {grpc.testing.TestService: {default: {require: {permissions: [nope.nope]}}}}`,
			compile.ErrUnknownPermission, `method EmptyCall: unknown permission: permission "nope.nope" is not declared`},
		{"bad field path", `services: {grpc.testing.TestService: {default: {public: {reason: x}}, methods: {UnaryCall: {require: {}, resource: nope}}}}`,
			compile.ErrFieldPath, `method UnaryCall: bad field path: resource "nope"`},
		{"unknown method", `services: {grpc.testing.TestService: {default: {public: {reason: x}}, methods: {Nope: {public: {reason: x}}}}}`,
			compile.ErrNoPolicy, "method Nope: no policy: the service has no such method"},
		{"unknown service", `services: {grpc.testing.TestService: {default: {public: {reason: x}}}, nope.Svc: {default: {public: {reason: x}}}}`,
			compile.ErrNoPolicy, "service nope.Svc: no policy: service is not defined"},
		{"bad permission name", `permissions: [{name: Bad, description: x}]
services: {grpc.testing.TestService: {default: {public: {reason: x}}}}`, compile.ErrCatalog, `permission name "Bad"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := ""
			if tt.policy != "" {
				pol = writePolicy(t, tt.policy)
			}
			_, err := Load(set, pol, nil, only("grpc.testing.TestService"))
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() = %v, want %v containing %q", err, tt.kind, tt.want)
			}
		})
	}
}

func TestLoadSyntaxErrors(t *testing.T) {
	set := writeSet(t)
	for _, tt := range []struct{ name, policy, want string }{
		{"unknown top-level key", "permisions: []\n", `unknown field "permisions"`},
		{"unknown policy field", "services: {grpc.testing.TestService: {default: {requre: {}}}}\n", `services.grpc.testing.TestService.default: proto:`},
		{"bad enum", "services: {grpc.testing.TestService: {default: {public: {reason: x}, sensitivity: TOP_SECRET}}}\n", `invalid value for enum`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(set, writePolicy(t, tt.policy), nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(writePolicy(t, "not a descriptor set"), "", nil, nil); err == nil {
		t.Errorf("Load(garbage) = nil, want an error")
	}
}
