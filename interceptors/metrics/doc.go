// Package metrics records Prometheus metrics for every gRPC call the
// gateway serves, on both transports:
//
//	portcullis_requests_total{method,code,transport}          counter
//	portcullis_request_duration_seconds{method,transport}     histogram
//	portcullis_requests_in_flight{transport}                  gauge
//
// method is the full gRPC method name ("/pkg.Service/Method"), or "unknown"
// for a name that the method filter rejects; code is the gRPC status code
// name ("OK", "PermissionDenied", ...); transport is "grpc" or "http" (from
// the internal metadata key "x-portcullis-transport", which the gateway's
// REST front sets and which is stripped from client input).
//
// A Metrics is a prometheus.Collector: the caller registers it, so that
// tests and several gateways in one process do not collide in a global
// registry. Use prometheus.WrapRegistererWith to add constant labels.
//
// Label cardinality is bounded on purpose. On the gateway's transparent
// proxy path the method name comes from the client, and every distinct value
// would otherwise become a new time series; so method names are checked
// against a known-method predicate (WithMethodFilter; the gateway passes its
// policy registry) and capped in number (WithMaxMethods).
//
// The interceptors read only the full method name and metadata, so the
// stream interceptor runs on the proxy path, where no message is decoded.
// They never change the call, its metadata or its status. Once a method's
// series exist the hot path makes no allocation, or one when the transport
// key is present (grpc's copy of the metadata value); see
// BenchmarkStreamInterceptor.
package metrics
