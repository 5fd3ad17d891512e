package authz

import (
	"sync"

	"cel.dev/cel-go/cel"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portcullis/portcullis/policy/expr"
)

// Compiler compiles CEL conditions and caches the programs by source and
// request type, so rebuilding an Engine for a new bundle reuses every
// unchanged condition. Safe for concurrent use.
type Compiler struct {
	mu       sync.Mutex
	programs map[compileKey]cel.Program
	envs     map[protoreflect.FullName]*cel.Env
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
