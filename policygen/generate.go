package policygen

import (
	"flag"
	"sort"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/compile"
)

// Version is the protoc-gen-portcullis version written into generated files.
const Version = "v0.1.0"

// Params are the plugin parameters.
type Params struct {
	// Catalog, when set, is the output path of the JSON permission catalog.
	Catalog string
	// GRPCGateway makes generated tables reference grpc-gateway's
	// Register…HandlerClient for services with HTTP bindings.
	GRPCGateway bool
}

// RegisterFlags binds the parameters to fs, for protogen.Options.ParamFunc.
func (p *Params) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&p.Catalog, "catalog", "", "write the JSON permission catalog to this path")
	fs.BoolVar(&p.GRPCGateway, "grpc_gateway", false, "reference grpc-gateway handlers for services with google.api.http bindings")
}

// Generate runs the plugin over every file in the request. It writes
// nothing and returns Errors when any annotation is wrong.
func Generate(gen *protogen.Plugin, params Params) error {
	gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL)
	var errs Errors
	memo := map[string]compile.Catalog{}
	var outputs []*fileOutput
	for _, f := range gen.Files {
		if !f.Generate {
			continue
		}
		visible := compile.Visible(f.Desc, memo, &errs)
		out := &fileOutput{file: f, permissions: compile.Permissions(f.Desc.Path(), compile.FileCatalog(f.Desc), &errs)}
		for _, s := range f.Services {
			def := compile.ServiceOption(s.Desc)
			for _, m := range s.Methods {
				cm := &compile.Method{Desc: m.Desc, Policy: compile.Merge(def, compile.MethodOption(m.Desc))}
				compile.Check(cm, visible, &errs)
				out.methods = append(out.methods, generated{service: s, method: m, policy: cm})
			}
		}
		if len(out.permissions) > 0 || len(out.methods) > 0 {
			outputs = append(outputs, out)
		}
	}
	if len(errs) > 0 {
		return errs.Sorted()
	}
	for _, o := range outputs {
		for i := range o.methods {
			o.methods[i].runtime = compile.ToMethod(o.methods[i].policy)
		}
		sort.Slice(o.methods, func(i, j int) bool { return o.methods[i].runtime.FullMethod < o.methods[j].runtime.FullMethod })
		emitTable(gen, o, params)
	}
	if params.Catalog != "" {
		return emitCatalog(gen, params.Catalog, outputs)
	}
	return nil
}

// fileOutput is what one proto file generates.
type fileOutput struct {
	file        *protogen.File
	permissions []policy.Permission
	methods     []generated
}

// generated is one method of a file's table.
type generated struct {
	service *protogen.Service
	method  *protogen.Method
	policy  *compile.Method
	runtime policy.Method
}
