// Package expr compiles the CEL conditions of Portcullis policies.
//
// One environment definition serves both sides: protoc-gen-portcullis uses
// it to type-check a condition at generation time, and the authorization
// stage uses it to compile the same condition at policy load time. A
// condition sees three variables:
//
//	principal  portcullis.v1.Principal       the authenticated caller
//	request    the method's request message  (first message of a stream)
//	context    portcullis.v1.RequestContext  client IP, time, method, …
//
// and must have type bool.
package expr

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"google.golang.org/protobuf/reflect/protoreflect"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
)

// Variable names visible to conditions.
const (
	VarPrincipal = "principal"
	VarRequest   = "request"
	VarContext   = "context"
)

// NewEnv returns the CEL environment for conditions of a method whose
// request message is request. The request's file and its imports are
// registered as CEL types, so field access on `request` is type-checked.
func NewEnv(request protoreflect.MessageDescriptor) (*cel.Env, error) {
	principal := (&portcullisv1.Principal{}).ProtoReflect().Descriptor()
	rctx := (&portcullisv1.RequestContext{}).ProtoReflect().Descriptor()
	opts := []cel.EnvOption{
		cel.TypeDescs(principal.ParentFile()),
		cel.Variable(VarPrincipal, cel.ObjectType(string(principal.FullName()))),
		cel.Variable(VarContext, cel.ObjectType(string(rctx.FullName()))),
	}
	if request != nil {
		opts = append(opts,
			cel.TypeDescs(request.ParentFile()),
			cel.Variable(VarRequest, cel.ObjectType(string(request.FullName()))))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("expr: environment: %w", err)
	}
	return env, nil
}

// Check parses and type-checks src in env and returns the checked AST. It
// fails when src does not parse, refers to unknown fields or functions, or
// does not have type bool.
func Check(env *cel.Env, src string) (*cel.Ast, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("expr: %w", iss.Err())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("expr: condition has type %s, want bool", ast.OutputType())
	}
	return ast, nil
}
