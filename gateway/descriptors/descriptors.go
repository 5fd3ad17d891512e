// Package descriptors lets the gateway gate gRPC services whose Go code is
// not compiled into it: their schema comes from a descriptor set (`buf
// build -o api.binpb`) and their policy from the set's own Portcullis
// annotations and/or a YAML policy file. Both are checked with exactly the
// rules protoc-gen-portcullis applies (package compile), at start-up.
//
// Policy file format:
//
//	permissions:                   # catalog entries, as in (portcullis.v1.catalog)
//	  - {name: inventory.items.read, description: "Read items."}
//	services:
//	  inventory.v1.Inventory:
//	    default: {require: {permissions: [inventory.items.read]}}  # as (portcullis.v1.service)
//	    methods:
//	      Health: {public: {reason: "probe"}}                      # as (portcullis.v1.method)
//
// A YAML default or method entry replaces the annotation of the same
// service or method. These services are served over gRPC only.
package descriptors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/goccy/go-yaml"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/compile"
)

// Set is the services loaded from one descriptor set and its policy.
type Set struct {
	// Files holds every file of the descriptor set (for reflection).
	Files *protoregistry.Files
	// Tables are the policy tables of the files that define services.
	Tables []*policy.Table
}

// File is the YAML policy file.
type File struct {
	Permissions []Permission       `yaml:"permissions"`
	Services    map[string]Service `yaml:"services"`
}

// Permission is one catalog entry of a policy file.
type Permission struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Sensitive   bool   `yaml:"sensitive"`
	Internal    bool   `yaml:"internal"`
}

// Service is the policy of one service in a policy file.
type Service struct {
	Default map[string]any            `yaml:"default"`
	Methods map[string]map[string]any `yaml:"methods"`
}

// Load reads a binary FileDescriptorSet and an optional YAML policy file
// (policyPath may be "") and checks every service the set defines against
// known, the permissions already declared by compiled-in tables. Services
// are only loaded when services reports true for their full name (the
// routed ones); nil loads all.
func Load(setPath, policyPath string, known []*policy.Permission, services func(string) bool) (*Set, error) {
	raw, err := os.ReadFile(setPath)
	if err != nil {
		return nil, fmt.Errorf("descriptors: %w", err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &fds); err != nil {
		return nil, fmt.Errorf("descriptors: %s: not a binary FileDescriptorSet: %w", setPath, err)
	}
	files, err := protodesc.NewFiles(&fds)
	if err != nil {
		return nil, fmt.Errorf("descriptors: %s: %w", setPath, err)
	}
	pf := &File{}
	if policyPath != "" {
		data, err := os.ReadFile(policyPath)
		if err != nil {
			return nil, fmt.Errorf("descriptors: %w", err)
		}
		if err := yaml.UnmarshalWithOptions(data, pf, yaml.DisallowUnknownField()); err != nil {
			return nil, fmt.Errorf("descriptors: %s: %s", policyPath, yaml.FormatError(err, false, true))
		}
	}
	return build(setPath, policyPath, files, pf, known, services)
}

func build(setPath, policyPath string, files *protoregistry.Files, pf *File, known []*policy.Permission, services func(string) bool) (*Set, error) {
	var errs compile.Errors
	base := compile.Catalog{}
	for _, p := range known {
		base[p.Name] = *p
	}
	var yamlPerms []policy.Permission
	cat := &portcullisv1.Catalog{}
	for _, p := range pf.Permissions {
		cat.Permissions = append(cat.Permissions, &portcullisv1.Permission{Name: p.Name, Description: p.Description, Sensitive: p.Sensitive, Internal: p.Internal})
	}
	for _, p := range compile.Permissions(policyPath, cat, &errs) {
		if _, dup := base[p.Name]; dup {
			errs = append(errs, &compile.Error{File: policyPath, Kind: compile.ErrCatalog, Problem: fmt.Sprintf("permission %q is already declared by a compiled-in catalog", p.Name), Fix: "remove it from the policy file"})
			continue
		}
		base[p.Name] = p
		yamlPerms = append(yamlPerms, p)
	}
	defaults, methods, perr := parsePolicies(policyPath, pf)
	if perr != nil {
		return nil, perr
	}
	set := &Set{Files: files}
	memo := map[string]compile.Catalog{}
	seenSvc := map[string]bool{}
	seenMethod := map[string]bool{}
	var fileList []protoreflect.FileDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool { fileList = append(fileList, fd); return true })
	sort.Slice(fileList, func(i, j int) bool { return fileList[i].Path() < fileList[j].Path() })
	for _, fd := range fileList {
		if !definesWanted(fd, services) {
			continue
		}
		catalog := compile.Catalog{}
		for k, v := range base {
			catalog[k] = v
		}
		var own []policy.Permission
		for name, p := range compile.Visible(fd, memo, &errs) {
			if _, compiled := base[name]; !compiled {
				catalog[name] = p
				if p.File == fd.Path() {
					own = append(own, p)
				}
			}
		}
		sort.Slice(own, func(i, j int) bool { return own[i].Name < own[j].Name })
		svcOpt := func(s protoreflect.ServiceDescriptor) *portcullisv1.MethodPolicy {
			seenSvc[string(s.FullName())] = true
			if d, ok := defaults[string(s.FullName())]; ok {
				return d
			}
			return compile.ServiceOption(s)
		}
		methodOpt := func(m protoreflect.MethodDescriptor) *portcullisv1.MethodPolicy {
			seenMethod[compile.FullMethod(m)] = true
			if p, ok := methods[compile.FullMethod(m)]; ok {
				return p
			}
			return compile.MethodOption(m)
		}
		t := compile.FileTable(fd, catalog, services, svcOpt, methodOpt, own, &errs)
		t.File = "descriptor:" + t.File
		set.Tables = append(set.Tables, t)
	}
	if len(yamlPerms) > 0 {
		set.Tables = append(set.Tables, &policy.Table{File: "policy:" + policyPath, Permissions: yamlPerms})
	}
	for name := range pf.Services {
		if !seenSvc[name] {
			errs = append(errs, &compile.Error{File: policyPath, Service: name, Kind: compile.ErrNoPolicy,
				Problem: fmt.Sprintf("service is not defined in %s (or not routed)", setPath), Fix: "fix the service name or add a route for it"})
		}
	}
	for full := range methods {
		if svc, name := policy.SplitMethod(full); seenSvc[svc] && !seenMethod[full] {
			errs = append(errs, &compile.Error{File: policyPath, Service: svc, Method: name, Kind: compile.ErrNoPolicy,
				Problem: "the service has no such method", Fix: "fix the method name"})
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("descriptors: %w", errs.Sorted())
	}
	return set, nil
}

func definesWanted(fd protoreflect.FileDescriptor, services func(string) bool) bool {
	svcs := fd.Services()
	for i := 0; i < svcs.Len(); i++ {
		if services == nil || services(string(svcs.Get(i).FullName())) {
			return true
		}
	}
	return false
}

// parsePolicies converts the YAML entries into MethodPolicy messages with
// protojson, so field names and enum values are exactly the proto's.
func parsePolicies(path string, pf *File) (map[string]*portcullisv1.MethodPolicy, map[string]*portcullisv1.MethodPolicy, error) {
	defaults := map[string]*portcullisv1.MethodPolicy{}
	methods := map[string]*portcullisv1.MethodPolicy{}
	var problems []error
	for svc, s := range pf.Services {
		if s.Default != nil {
			p, err := toPolicy(s.Default)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: services.%s.default: %w", path, svc, err))
			}
			defaults[svc] = p
		}
		for name, m := range s.Methods {
			p, err := toPolicy(m)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: services.%s.methods.%s: %w", path, svc, name, err))
			}
			methods["/"+svc+"/"+name] = p
		}
	}
	if len(problems) > 0 {
		sort.Slice(problems, func(i, j int) bool { return problems[i].Error() < problems[j].Error() })
		return nil, nil, fmt.Errorf("descriptors: %w", errors.Join(problems...))
	}
	return defaults, methods, nil
}

func toPolicy(v map[string]any) (*portcullisv1.MethodPolicy, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	p := &portcullisv1.MethodPolicy{}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, p); err != nil {
		return nil, err
	}
	return p, nil
}
