package authz

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sort"

	"cel.dev/cel-go/cel"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/portcullis/portcullis/policy"
)

// Engine is a compiled bundle: everything Decide needs, precomputed. It is
// immutable and safe for concurrent use; a new bundle means a new Engine.
type Engine struct {
	version  string
	names    []string       // permission index → name
	index    map[string]int // permission name → index
	words    int
	roles    map[string]*role
	users    map[string]*subject
	groups   map[string]*subject
	services map[string]*subject
	spiffe   map[string]*subject
	grants   map[string]bitset
	plans    map[*policy.Method]*plan
	// effective maps a compiled method to its overridden copy, for the
	// stages that read limits (rate limiting).
	overridden map[*policy.Method]*policy.Method
	// usesRate: some condition reads context.request_rate, so calls are
	// counted per principal (RateMeter).
	usesRate bool
}

type bitset []uint64

func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }

// or adds o's permissions to b (both of the engine's width).
func (b bitset) or(o bitset) {
	for w := range b {
		b[w] |= o[w]
	}
}

// subject is what the bindings give one user, group, service or SPIFFE
// id: its roles, and the union of their permissions, which lets a decision
// pass over a subject none of whose roles holds the permission without
// testing each role (a denial otherwise tests every bound role).
type subject struct {
	roles []*role
	any   bitset
}

// rolesOf is s's roles; nil for a subject without bindings.
func (s *subject) rolesOf() []*role {
	if s == nil {
		return nil
	}
	return s.roles
}

// bind adds the roles of one binding to the subject key of m. A subject
// with one role shares that role's bitset as its union (most subjects: no
// memory beyond the role list); a second role gives it a union of its own.
func bind(m map[string]*subject, key string, rs []*role) {
	s, ok := m[key]
	if !ok {
		s = &subject{}
		m[key] = s
	}
	for _, r := range rs {
		switch len(s.roles) {
		case 0:
			s.any = r.bits
		case 1:
			s.any = slices.Clone(s.any)
			fallthrough
		default:
			s.any.or(r.bits)
		}
		s.roles = append(s.roles, r)
	}
}

type role struct {
	name string
	bits bitset
	cond cel.Program // nil: unconditional
	src  string
}

// plan is a method's requirement in index form, bundle overrides applied.
type plan struct {
	required  []int
	cond      cel.Program
	disabled  bool
	extra     []int       // override: more permissions, all required
	extraCond cel.Program // override: a condition that must also hold
	extraSrc  string
}

// EngineOption configures NewEngine.
type EngineOption func(*engineOptions)

type engineOptions struct {
	resolve  func(name string) (protoreflect.MessageDescriptor, error)
	compiler *Compiler
}

// WithMessageResolver finds request message descriptors by full name, for
// method conditions. Default: the Go registry (protoregistry.GlobalTypes).
func WithMessageResolver(f func(name string) (protoreflect.MessageDescriptor, error)) EngineOption {
	return func(o *engineOptions) { o.resolve = f }
}

// WithCompiler shares a CEL compiler (and its cache) between engines, so
// a reload reuses the programs of unchanged conditions. Default: a new one.
func WithCompiler(c *Compiler) EngineOption { return func(o *engineOptions) { o.compiler = c } }

func globalResolve(name string) (protoreflect.MessageDescriptor, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		return nil, err
	}
	return mt.Descriptor(), nil
}

// NewEngine compiles bundle b for the methods of reg. It fails when a
// condition does not compile or the bundle names a permission the registry
// does not know (the bundle loader normally catches that first).
func NewEngine(reg *policy.Registry, b *policy.Bundle, opts ...EngineOption) (*Engine, error) {
	o := engineOptions{resolve: globalResolve}
	for _, opt := range opts {
		opt(&o)
	}
	if o.compiler == nil {
		o.compiler = NewCompiler()
	}
	if b == nil {
		b = &policy.Bundle{Version: "none"}
	}
	base, err := o.compiler.base(reg, o.resolve)
	if err != nil {
		return nil, err
	}
	e := &Engine{version: b.Version, index: base.index, names: base.names, words: base.words, plans: base.plans, usesRate: base.usesRate,
		roles: map[string]*role{}, users: map[string]*subject{}, groups: map[string]*subject{}, services: map[string]*subject{},
		spiffe: map[string]*subject{}, grants: map[string]bitset{}, overridden: map[*policy.Method]*policy.Method{}}
	bitsOf := func(what string, perms []string) (bitset, error) {
		bs := make(bitset, e.words)
		for _, p := range perms {
			i, ok := e.index[p]
			if !ok {
				return nil, fmt.Errorf("authz: %s: unknown permission %q", what, p)
			}
			bs.set(i)
		}
		return bs, nil
	}
	for name, r := range b.Roles {
		bs, err := bitsOf("role "+name, r.Permissions)
		if err != nil {
			return nil, err
		}
		cr := &role{name: name, bits: bs, src: r.Condition}
		if r.Condition != "" {
			if cr.cond, err = o.compiler.Program(r.Condition, nil); err != nil {
				return nil, fmt.Errorf("authz: role %s: condition: %w", name, err)
			}
			e.usesRate = e.usesRate || readsRate(r.Condition)
		}
		e.roles[name] = cr
	}
	for i, bd := range b.Bindings {
		var rs []*role
		for _, n := range bd.Roles {
			r, ok := e.roles[n]
			if !ok {
				return nil, fmt.Errorf("authz: bindings[%d]: unknown role %q", i, n)
			}
			rs = append(rs, r)
		}
		for _, s := range bd.Users {
			bind(e.users, s, rs)
		}
		for _, s := range bd.Groups {
			bind(e.groups, s, rs)
		}
		for _, s := range bd.Services {
			bind(e.services, s, rs)
		}
		for _, s := range bd.SPIFFE {
			bind(e.spiffe, s, rs)
		}
	}
	for _, g := range b.Grants {
		bs, err := bitsOf("grant for "+g.Subject, g.Permissions)
		if err != nil {
			return nil, err
		}
		if old, ok := e.grants[g.Subject]; ok {
			bs.or(old)
		}
		e.grants[g.Subject] = bs
	}
	if err := e.applyOverrides(reg, b, o); err != nil {
		return nil, err
	}
	return e, nil
}

// applyOverrides folds the bundle's per-method overrides into the plans.
func (e *Engine) applyOverrides(reg *policy.Registry, b *policy.Bundle, o engineOptions) error {
	cloned := false
	for name, ov := range b.Overrides {
		m, ok := reg.Lookup(name)
		if !ok {
			return fmt.Errorf("authz: override %s: unknown method", name)
		}
		if !cloned {
			e.plans, cloned = maps.Clone(e.plans), true // the base plans are shared: copy on write
		}
		cp := *e.plans[m]
		p := &cp
		e.plans[m] = p
		p.disabled = ov.Disabled
		p.extra = nil
		for _, perm := range ov.Permissions {
			i, ok := e.index[perm]
			if !ok {
				return fmt.Errorf("authz: override %s: unknown permission %q", name, perm)
			}
			p.extra = append(p.extra, i)
		}
		if ov.Condition != "" {
			md, err := o.resolve(m.RequestType)
			if err != nil {
				return fmt.Errorf("authz: override %s: request type %s: %w", name, m.RequestType, err)
			}
			if p.extraCond, err = o.compiler.Program(ov.Condition, md); err != nil {
				return fmt.Errorf("authz: override %s: condition: %w", name, err)
			}
			p.extraSrc = ov.Condition
			e.usesRate = e.usesRate || readsRate(ov.Condition)
		}
		if ov.RateLimit != nil {
			em := *m
			em.RateLimit = ov.RateLimit
			e.overridden[m] = &em
			e.plans[&em] = p
		}
	}
	return nil
}

// UsesRequestRate reports whether a condition of the engine reads
// context.request_rate: only then do the interceptors count calls per
// principal (a RateMeter), so that no other policy pays for it.
func (e *Engine) UsesRequestRate() bool { return e.usesRate }

// Effective returns the method with the bundle's overrides applied (a
// tighter rate limit), or m itself when the bundle overrides nothing.
func (e *Engine) Effective(m *policy.Method) *policy.Method {
	if em, ok := e.overridden[m]; ok {
		return em
	}
	return m
}

// Version returns the bundle version the engine was built from.
func (e *Engine) Version() string { return e.version }

// effective returns the names of the permissions in bs, sorted.
func (e *Engine) effective(bs bitset) []string {
	var out []string
	for w, word := range bs {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			out = append(out, e.names[i])
			word &= word - 1
		}
	}
	sort.Strings(out)
	return out
}
