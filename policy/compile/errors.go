package compile

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error kinds. Every *Error wraps exactly one of them, so callers and tests
// can use errors.Is.
var (
	// ErrNoPolicy: a method has neither its own policy nor a service default.
	ErrNoPolicy = errors.New("no policy")
	// ErrUnknownPermission: a required permission is in no visible catalog.
	ErrUnknownPermission = errors.New("unknown permission")
	// ErrPublicProtected: a method is public and requires permissions, or
	// otherwise mixes public access with caller requirements.
	ErrPublicProtected = errors.New("public method with requirements")
	// ErrFieldPath: a resource, rate-limit or audit field path is missing or
	// of the wrong type.
	ErrFieldPath = errors.New("bad field path")
	// ErrCondition: the CEL condition does not parse or type-check.
	ErrCondition = errors.New("bad condition")
	// ErrLimit: a limit is non-positive, out of range or contradictory.
	ErrLimit = errors.New("bad limit")
	// ErrCatalog: a catalog entry is malformed or declared twice.
	ErrCatalog = errors.New("bad catalog")
)

// Error is one problem found in the annotations. It names where the
// problem is and how to fix it.
type Error struct {
	File    string // proto source path
	Service string // full service name, or "" for file-level problems
	Method  string // method name, or ""
	Kind    error  // one of the Err… values
	Problem string
	Fix     string
}

// Error formats the problem as
// "FILE: service S, method M: KIND: PROBLEM (fix: FIX)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Service != "" {
		fmt.Fprintf(&b, ": service %s", e.Service)
	}
	if e.Method != "" {
		fmt.Fprintf(&b, ", method %s", e.Method)
	}
	fmt.Fprintf(&b, ": %v: %s", e.Kind, e.Problem)
	if e.Fix != "" {
		fmt.Fprintf(&b, " (fix: %s)", e.Fix)
	}
	return b.String()
}

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Errors is every problem of one run, sorted.
type Errors []*Error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return fmt.Sprintf("protoc-gen-portcullis: %d problem(s):\n%s", len(es), strings.Join(lines, "\n"))
}

// Unwrap returns the problems for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Sorted sorts the problems by message and returns them.
func (es Errors) Sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Error() < es[j].Error() })
	return es
}
