package policy

import (
	"fmt"
	"sort"
)

// Registry resolves full method names to their policy. It is immutable after
// NewRegistry returns and safe for concurrent use.
//
// Lookup is one Go map probe keyed by the full method string: O(1) and free
// of allocations (the string is not copied or hashed into a new key).
type Registry struct {
	methods     map[string]*Method
	permissions map[string]*Permission
	services    map[string][]*Method
	names       []string
}

// NewRegistry builds a registry from tables. It fails when two tables define
// the same method or the same permission, or when a method requires a
// permission that no table declares.
func NewRegistry(tables ...*Table) (*Registry, error) {
	r := &Registry{
		methods:     make(map[string]*Method),
		permissions: make(map[string]*Permission),
		services:    make(map[string][]*Method),
	}
	for _, t := range tables {
		for i := range t.Permissions {
			p := &t.Permissions[i]
			if o, dup := r.permissions[p.Name]; dup {
				return nil, fmt.Errorf("policy: permission %q declared in %s and %s", p.Name, o.File, t.File)
			}
			r.permissions[p.Name] = p
		}
	}
	for _, t := range tables {
		for i := range t.Methods {
			m := &t.Methods[i]
			if _, dup := r.methods[m.FullMethod]; dup {
				return nil, fmt.Errorf("policy: method %s defined twice (second in %s)", m.FullMethod, t.File)
			}
			svc, name := SplitMethod(m.FullMethod)
			if svc == "" || name == "" {
				return nil, fmt.Errorf("policy: %s: malformed method name %q", t.File, m.FullMethod)
			}
			for _, p := range m.Permissions {
				if _, ok := r.permissions[p]; !ok {
					return nil, fmt.Errorf("policy: method %s requires undeclared permission %q", m.FullMethod, p)
				}
			}
			r.methods[m.FullMethod] = m
			r.services[svc] = append(r.services[svc], m)
			r.names = append(r.names, m.FullMethod)
		}
	}
	sort.Strings(r.names)
	return r, nil
}

// Lookup returns the policy of the full method name ("/pkg.Service/Method")
// and whether it exists. An unknown method must be denied by the caller.
func (r *Registry) Lookup(fullMethod string) (*Method, bool) {
	m, ok := r.methods[fullMethod]
	return m, ok
}

// Permission returns the catalog entry for name.
func (r *Registry) Permission(name string) (*Permission, bool) {
	p, ok := r.permissions[name]
	return p, ok
}

// Service returns the methods of a service, sorted by name, or nil.
func (r *Registry) Service(name string) []*Method { return r.services[name] }

// Methods returns every full method name, sorted.
func (r *Registry) Methods() []string { return append([]string(nil), r.names...) }

// Len returns the number of methods.
func (r *Registry) Len() int { return len(r.methods) }

// Permissions returns every catalog entry, sorted by name.
func (r *Registry) Permissions() []*Permission {
	out := make([]*Permission, 0, len(r.permissions))
	for _, p := range r.permissions {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
