// Package policy is the runtime model of Portcullis policies: the method
// tables that protoc-gen-portcullis generates from proto annotations, the
// permission catalog, and the Registry that resolves a full gRPC method name
// to its policy.
//
// The package depends on the standard library only, so generated code, the
// interceptors and the gateway can all share it. Everything in it is
// immutable once built and safe for concurrent use.
package policy
