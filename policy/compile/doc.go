// Package compile resolves, checks and converts Portcullis policy options
// (portcullis/v1/annotations.proto) into the runtime model of package
// policy. protoc-gen-portcullis uses it at generation time; the gateway uses
// it at start-up for services it knows only from a descriptor set, so both
// paths apply exactly the same rules and produce the same policy.Method.
package compile
