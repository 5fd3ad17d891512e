package compile

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
	"github.com/portcullis/portcullis/policy"
)

// Catalog is the set of permissions visible to a file, by name.
type Catalog map[string]policy.Permission

// Permissions validates a catalog's entries (declared in file) and returns
// them as policy.Permission values, sorted by name. Problems are appended
// to errs.
func Permissions(file string, cat *portcullisv1.Catalog, errs *Errors) []policy.Permission {
	var out []policy.Permission
	seen := map[string]bool{}
	for _, p := range cat.GetPermissions() {
		switch {
		case !permissionName.MatchString(p.Name):
			*errs = append(*errs, fileError(file, ErrCatalog, "use dot-separated lower-case words, e.g. bank.accounts.read",
				"permission name %q is not of the form service.resource.verb", p.Name))
			continue
		case seen[p.Name]:
			*errs = append(*errs, fileError(file, ErrCatalog, "declare each permission once", "permission %q declared twice", p.Name))
			continue
		case strings.TrimSpace(p.Description) == "":
			*errs = append(*errs, fileError(file, ErrCatalog, "add a description saying what the permission allows", "permission %q has no description", p.Name))
		}
		seen[p.Name] = true
		out = append(out, policy.Permission{Name: p.Name, Description: p.Description, Sensitive: p.Sensitive, Internal: p.Internal, File: file})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Visible returns the permissions declared by fd and every file it
// imports, transitively. A name declared in two visible files is a
// problem of fd (appended to errs). memo caches results across files.
func Visible(fd protoreflect.FileDescriptor, memo map[string]Catalog, errs *Errors) Catalog {
	return visible(fd, memo, errs, true)
}

func visible(fd protoreflect.FileDescriptor, memo map[string]Catalog, errs *Errors, report bool) Catalog {
	if v, ok := memo[fd.Path()]; ok {
		return v
	}
	v := Catalog{}
	memo[fd.Path()] = v // breaks (impossible) import cycles
	var quiet Errors
	add := func(p policy.Permission) {
		if o, dup := v[p.Name]; dup && o.File != p.File {
			if report {
				*errs = append(*errs, fileError(fd.Path(), ErrCatalog, "declare the permission in one file only",
					"permission %q declared in both %s and %s", p.Name, o.File, p.File))
			}
			return
		}
		v[p.Name] = p
	}
	imports := fd.Imports()
	for i := 0; i < imports.Len(); i++ {
		for _, p := range visible(imports.Get(i).FileDescriptor, memo, &quiet, false) {
			add(p)
		}
	}
	for _, p := range Permissions(fd.Path(), FileCatalog(fd), &quiet) {
		add(p)
	}
	return v
}

func fileError(file string, kind error, fix, format string, args ...any) *Error {
	return &Error{File: file, Kind: kind, Problem: fmt.Sprintf(format, args...), Fix: fix}
}
