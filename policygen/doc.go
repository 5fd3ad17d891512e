// Package policygen implements protoc-gen-portcullis, the protoc/buf plugin
// that turns Portcullis options (portcullis/v1/annotations.proto) into Go
// policy tables and a JSON permission catalog.
//
// It is strict by default: generation fails, naming the file, service and
// method and saying how to fix it, when a method has no policy, names an
// undeclared permission, is public and protected at once, points its
// resource or rate-limit key at a field that is missing or not a scalar
// string or integer, has a CEL condition that does not type-check to bool
// against principal, request and context, or has non-positive or
// contradictory limits. Every problem in the request is reported, sorted, in
// one run. Output is deterministic.
//
// Plugin parameters (buf.gen.yaml `opt`):
//
//	paths=source_relative  the usual protoc-gen-go path option
//	catalog=FILE           also write the JSON permission catalog to FILE
//	grpc_gateway=true      reference grpc-gateway's Register…HandlerClient
//	                       for services with google.api.http bindings
package policygen
