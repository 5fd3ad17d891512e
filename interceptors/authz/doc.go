// Package authz is Portcullis's per-method authorization: a pure decision
// function (Engine.Decide: method policy × principal × call facts →
// verdict) and its gRPC interceptors.
//
// Effective permissions of a call are the permissions of the principal's
// roles (roles from token claims or the API key, plus the bundle's subject
// bindings for the principal's id, groups and SPIFFE ID) and of operator
// grants, intersected with the credential's scopes when it carries scopes.
// A method's requirement is all-of (default) or any-of its permissions,
// plus every required scope, plus the credential, mTLS and bound-token
// requirements, plus its CEL condition. A role with a condition applies
// only to calls for which the condition holds.
//
// Everything is compiled when an Engine is built (permission bit sets, CEL
// programs), never at request time. Denials are codes.PermissionDenied
// with the fixed message "permission denied"; the reason goes to the call's
// policy.Record for the audit log.
package authz
