package authz

import (
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/expr"
)

// Compiler compiles CEL conditions and caches the programs by source and
// request type, so rebuilding an Engine for a new bundle reuses every
// unchanged condition. Safe for concurrent use.
type Compiler struct {
	mu       sync.Mutex
	programs map[compileKey]cel.Program
	envs     map[protoreflect.FullName]*cel.Env
	bases    map[*policy.Registry]*basePlans
}

// basePlans is what an Engine needs from the compiled tables alone,
// independent of the bundle: the permission index and every method's plan.
// It is built once per registry and shared (read-only) by every engine.
type basePlans struct {
	names []string
	index map[string]int
	words int
	plans map[*policy.Method]*plan
	// usesRate: a method condition reads context.request_rate.
	usesRate bool
}

// base returns the registry's plans, building them on first use.
func (c *Compiler) base(reg *policy.Registry, resolve func(string) (protoreflect.MessageDescriptor, error)) (*basePlans, error) {
	c.mu.Lock()
	b, ok := c.bases[reg]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b = &basePlans{index: map[string]int{}, plans: map[*policy.Method]*plan{}}
	for _, p := range reg.Permissions() {
		b.index[p.Name] = len(b.names)
		b.names = append(b.names, p.Name)
	}
	b.words = (len(b.names) + 63) / 64
	for _, name := range reg.Methods() {
		m, _ := reg.Lookup(name)
		p := &plan{}
		for _, perm := range m.Permissions {
			i, ok := b.index[perm]
			if !ok {
				return nil, fmt.Errorf("authz: method %s: unknown permission %q", name, perm)
			}
			p.required = append(p.required, i)
		}
		if m.Condition != "" {
			md, err := resolve(m.RequestType)
			if err != nil {
				return nil, fmt.Errorf("authz: method %s: request type %s: %w", name, m.RequestType, err)
			}
			if p.cond, err = c.Program(m.Condition, md); err != nil {
				return nil, fmt.Errorf("authz: method %s: condition: %w", name, err)
			}
			b.usesRate = b.usesRate || readsRate(m.Condition)
		}
		b.plans[m] = p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bases == nil {
		c.bases = map[*policy.Registry]*basePlans{}
	}
	if prev, ok := c.bases[reg]; ok {
		return prev, nil
	}
	c.bases[reg] = b
	return b, nil
}

type compileKey struct {
	src     string
	request protoreflect.FullName
}

// NewCompiler returns an empty Compiler.
func NewCompiler() *Compiler {
	return &Compiler{programs: map[compileKey]cel.Program{}, envs: map[protoreflect.FullName]*cel.Env{}}
}

// Program returns the compiled program for src; request is the request
// message type (nil for role conditions, which see no request).
func (c *Compiler) Program(src string, request protoreflect.MessageDescriptor) (cel.Program, error) {
	var name protoreflect.FullName
	if request != nil {
		name = request.FullName()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.programs[compileKey{src, name}]; ok {
		return p, nil
	}
	env, ok := c.envs[name]
	if !ok {
		var err error
		if env, err = expr.NewEnv(request); err != nil {
			return nil, err
		}
		c.envs[name] = env
	}
	ast, err := expr.Check(env, src)
	if err != nil {
		return nil, err
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	c.programs[compileKey{src, name}] = prg
	return prg, nil
}

// Len returns the number of cached programs.
func (c *Compiler) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.programs)
}
