package policygen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	_ "google.golang.org/genproto/googleapis/api/annotations" // registers google/api files
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/portcullis/portcullis/policygen"
)

// optionsDir is where portcullis/v1/*.proto live; tests compile them from
// source so that they always test the current options.
const optionsDir = "../proto"

// compile builds descriptors for the named files with protocompile (no buf
// at test time). Sources come from the map first, then from dirs, then
// (for google/api) from the Go registry.
func compile(t *testing.T, sources map[string]string, dirs []string, names ...string) linker.Files {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(sources)},
			&protocompile.SourceResolver{ImportPaths: dirs},
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				if err != nil {
					return protocompile.SearchResult{}, err
				}
				return protocompile.SearchResult{Desc: fd}, nil
			}),
		}),
	}
	files, err := c.Compile(ctx, names...)
	if err != nil {
		t.Fatalf("compile %v: %v", names, err)
	}
	return files
}

// request builds the CodeGeneratorRequest protoc or buf would send:
// every file in dependency order, with toGenerate marked.
func request(files linker.Files, params string, toGenerate ...string) *pluginpb.CodeGeneratorRequest {
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: toGenerate, Parameter: proto.String(params)}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		add(f)
	}
	// Files without go_package get one, as buf's managed mode would.
	var ms []string
	for _, fd := range req.ProtoFile {
		if fd.GetOptions().GetGoPackage() == "" {
			dir := filepath.ToSlash(filepath.Dir(fd.GetName()))
			ms = append(ms, "M"+fd.GetName()+"=example.com/gen/"+dir)
		}
	}
	if len(ms) > 0 {
		if params != "" {
			ms = append([]string{params}, ms...)
		}
		req.Parameter = proto.String(strings.Join(ms, ","))
	}
	return req
}

// run executes the plugin like a real protoc invocation: the request is
// serialised and parsed again so options are decoded with the registered
// extension types. It returns generated files by name.
func run(t *testing.T, req *pluginpb.CodeGeneratorRequest, params policygen.Params) (map[string]string, error) {
	t.Helper()
	raw, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var parsed pluginpb.CodeGeneratorRequest
	if err := proto.Unmarshal(raw, &parsed); err != nil {
		t.Fatal(err)
	}
	gen, err := protogen.Options{}.New(&parsed)
	if err != nil {
		t.Fatalf("protogen: %v", err)
	}
	if err := policygen.Generate(gen, params); err != nil {
		return nil, err
	}
	resp := gen.Response()
	if resp.Error != nil {
		t.Fatalf("response error: %s", resp.GetError())
	}
	out := map[string]string{}
	for _, f := range resp.File {
		out[f.GetName()] = f.GetContent()
	}
	return out, nil
}

// generateSource compiles one in-memory file (which may import
// portcullis/v1 options and google/api) and runs the plugin on it.
func generateSource(t *testing.T, src string) (map[string]string, error) {
	t.Helper()
	files := compile(t, map[string]string{"test/v1/test.proto": src}, []string{optionsDir}, "test/v1/test.proto")
	return run(t, request(files, "", "test/v1/test.proto"), policygen.Params{})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
