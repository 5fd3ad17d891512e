// Package resolve maps the full method name of every gRPC call to its
// compiled policy, and denies calls to methods that have none.
//
// For a method the Resolver knows, the interceptors store its *policy.Method
// in the context (FromContext) for the authentication, authorization, rate
// limit and audit interceptors after it, and call the handler. For any other
// method they return codes.Unimplemented with the fixed message "unknown
// method" and never call the handler: deny by default, so that a method
// without a policy is never forwarded. Methods that the gateway serves
// itself and that have no policy (health, reflection) are let through by
// WithAllow, without a policy in the context.
//
// Only the full method name is used, so the stream interceptor runs on the
// gateway's transparent proxy path, where no message is decoded. A
// *policy.Registry is a Resolver; its Lookup is one map probe, and the whole
// interceptor makes one allocation per call (see BenchmarkStreamServerInterceptor).
package resolve
