package policygen

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"
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
	catalogs := map[string]map[string]*catalogEntry{} // file path → visible permissions
	var outputs []*fileOutput
	for _, f := range gen.Files {
		if !f.Generate {
			continue
		}
		visible := visibleCatalog(f.Desc, catalogs, &errs, f)
		out := &fileOutput{file: f}
		for _, e := range ownCatalog(f.Desc, &errs, f) {
			out.permissions = append(out.permissions, e)
		}
		for _, s := range f.Services {
			svcDefault := servicePolicy(s)
			for _, m := range s.Methods {
				mm := &method{file: f, service: s, desc: m, policy: merge(svcDefault, methodPolicy(m))}
				check(mm, visible, &errs)
				out.methods = append(out.methods, mm)
			}
		}
		if len(out.permissions) > 0 || len(out.methods) > 0 {
			outputs = append(outputs, out)
		}
	}
	if len(errs) > 0 {
		return errs.sorted()
	}
	for _, o := range outputs {
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
	permissions []*catalogEntry
	methods     []*method
}

// ownCatalog validates and returns the permissions a file declares, sorted.
func ownCatalog(fd protoreflect.FileDescriptor, errs *Errors, f *protogen.File) []*catalogEntry {
	cat := fileCatalog(fd)
	if cat == nil {
		return nil
	}
	var out []*catalogEntry
	seen := map[string]bool{}
	for _, p := range cat.Permissions {
		switch {
		case f != nil && !permissionName.MatchString(p.Name):
			fileError(errs, f, ErrCatalog, "use dot-separated lower-case words, e.g. bank.accounts.read",
				"permission name %q is not of the form service.resource.verb", p.Name)
		case f != nil && seen[p.Name]:
			fileError(errs, f, ErrCatalog, "declare each permission once", "permission %q declared twice", p.Name)
		case f != nil && strings.TrimSpace(p.Description) == "":
			fileError(errs, f, ErrCatalog, "add a description saying what the permission allows", "permission %q has no description", p.Name)
		}
		seen[p.Name] = true
		out = append(out, &catalogEntry{perm: p, file: fd.Path()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].perm.GetName() < out[j].perm.GetName() })
	return out
}

// visibleCatalog returns the permissions declared by fd and every file it
// imports, transitively. A name declared in two visible files is an error.
func visibleCatalog(fd protoreflect.FileDescriptor, memo map[string]map[string]*catalogEntry, errs *Errors, f *protogen.File) map[string]*catalogEntry {
	if v, ok := memo[fd.Path()]; ok {
		return v
	}
	v := map[string]*catalogEntry{}
	memo[fd.Path()] = v // breaks (impossible) import cycles
	imports := fd.Imports()
	for i := 0; i < imports.Len(); i++ {
		for name, e := range visibleCatalog(imports.Get(i).FileDescriptor, memo, errs, nil) {
			addVisible(v, name, e, errs, f)
		}
	}
	for _, e := range ownCatalog(fd, &Errors{}, nil) {
		addVisible(v, e.perm.GetName(), e, errs, f)
	}
	return v
}

func addVisible(v map[string]*catalogEntry, name string, e *catalogEntry, errs *Errors, f *protogen.File) {
	if o, dup := v[name]; dup && o.file != e.file {
		if f != nil {
			fileError(errs, f, ErrCatalog, "declare the permission in one file only",
				"permission %q declared in both %s and %s", name, o.file, e.file)
		}
		return
	}
	v[name] = e
}

// fullMethod is "/pkg.Service/Method".
func fullMethod(m *method) string {
	return fmt.Sprintf("/%s/%s", m.service.Desc.FullName(), m.desc.Desc.Name())
}
