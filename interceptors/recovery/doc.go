// Package recovery turns a panic in a gRPC handler into a codes.Internal
// status instead of a crashed gateway.
//
// It is the outermost interceptor of the Portcullis chain, so it also
// catches panics in every interceptor inside it. The client only ever sees
// codes.Internal with the fixed message "internal error"; the panic value,
// method and stack go to a log/slog logger at level Error, and an optional
// counter callback is called once per recovered panic.
//
// Both interceptors work from the full method name alone, so they run on the
// gateway's transparent proxy path, where only stream interceptors run.
//
// A panic in a goroutine that a handler starts cannot be recovered here; it
// still crashes the process, as in any Go program.
package recovery
