package policygen

import "github.com/portcullis/portcullis/policy/compile"

// The problem kinds and error types are those of package compile, which
// holds the rules shared with the gateway; they are repeated here so that
// plugin users need only this package.
var (
	ErrNoPolicy          = compile.ErrNoPolicy
	ErrUnknownPermission = compile.ErrUnknownPermission
	ErrPublicProtected   = compile.ErrPublicProtected
	ErrFieldPath         = compile.ErrFieldPath
	ErrCondition         = compile.ErrCondition
	ErrLimit             = compile.ErrLimit
	ErrCatalog           = compile.ErrCatalog
)

// Error is one problem found in the annotations.
type Error = compile.Error

// Errors is every problem of one run, sorted.
type Errors = compile.Errors
