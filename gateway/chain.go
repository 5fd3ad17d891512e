package gateway

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/recovery"
	"github.com/portcullis/portcullis/interceptors/requestid"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// gatewayOwned reports whether a method is served by the gateway itself
// (health, reflection) rather than proxied; those have no policy table.
func gatewayOwned(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1alpha.ServerReflection/")
}

// proxied reports whether a method's calls end in the proxy, which puts the
// request id into the header it forwards (responseHeader); the gateway's
// own streaming services send their own headers.
func proxied(fullMethod string) bool { return !gatewayOwned(fullMethod) }

// chain returns the unary and stream interceptors in the documented order.
func (g *Gateway) chain() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	panics := prometheus.NewCounter(prometheus.CounterOpts{Name: "portcullis_panics_total", Help: "Handler panics recovered by the gateway."})
	g.prom.MustRegister(panics)
	rec := []recovery.Option{recovery.WithLogger(g.log), recovery.WithCounter(func(string) { panics.Inc() })}
	var ids []requestid.Option
	if t := g.cfg.Tracing; t != nil && t.StartTraces {
		ids = append(ids, requestid.WithStartTraces(t.Sampled))
	}
	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(rec...),
		stripUnary,
		requestid.UnaryServerInterceptor(ids...),
		g.metrics.UnaryServerInterceptor(),
	}
	stream := []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(rec...),
		stripStream,
		requestid.StreamServerInterceptor(append(ids, requestid.WithoutMetadataRewrite(), requestid.WithHeaderFromHandler(proxied))...),
		g.metrics.StreamServerInterceptor(),
	}
	// The audit stage runs before method resolution, so that calls of
	// unknown methods are recorded too (it looks the policy up itself).
	for _, s := range g.opts.stages {
		if s.Name == "audit" {
			unary = append(unary, s.Unary)
			stream = append(stream, s.Stream)
		}
	}
	unary = append(unary, resolve.UnaryServerInterceptor(g.registry, resolve.WithAllow(gatewayOwned)))
	stream = append(stream, resolve.StreamServerInterceptor(g.registry, resolve.WithAllow(gatewayOwned)))
	// New always sets stages: identity stages, or the deny-protected gate.
	for _, s := range g.opts.stages {
		if s.Name != "audit" {
			unary = append(unary, s.Unary)
			stream = append(stream, s.Stream)
		}
	}
	stream = append(stream, limitStream(g.routes))
	return unary, stream
}

// countUpstream counts the calls the proxy ended with an error, by service
// and code (portcullis_upstream_errors_total).
func (g *Gateway) countUpstream(h grpc.StreamHandler) grpc.StreamHandler {
	return func(srv any, ss grpc.ServerStream) error {
		err := h(srv, ss)
		if err != nil {
			method, _ := grpc.MethodFromServerStream(ss)
			svc, _ := policy.SplitMethod(method)
			if _, ok := g.routes[svc]; !ok {
				svc = "unknown"
			}
			g.upstream.WithLabelValues(svc, status.Code(err).String()).Inc()
		}
		return err
	}
}

// chainStreams composes interceptors into one, in order, like
// grpc.ChainStreamInterceptor, without its per-call cost: grpc-go builds
// one closure per stage for every call, which for the gateway's dozen
// stages is a dozen allocations on every proxied call. Here each pooled
// streamCall holds the stage-to-stage handlers, built once, and a call
// borrows one for its duration.
//
// That is sound because a stage calls its handler only before it returns,
// never from a goroutine that outlives it (no stage in interceptors/ or
// here does; grpc-go finishes the stream once the outermost handler
// returns, so a later call could not work anyway).
func chainStreams(interceptors []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	n := len(interceptors)
	if n == 0 {
		return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			return handler(srv, ss)
		}
	}
	pool := sync.Pool{New: func() any { return newStreamCall(interceptors) }}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		c := pool.Get().(*streamCall)
		c.info, c.final = info, handler
		err := interceptors[0](srv, ss, info, c.next[0])
		c.info, c.final = nil, nil
		pool.Put(c)
		return err
	}
}

// streamCall is one call's pass through the chain: next[i] is the handler
// stage i receives, which runs stage i+1 (the last one runs final).
type streamCall struct {
	info  *grpc.StreamServerInfo
	final grpc.StreamHandler
	next  []grpc.StreamHandler
}

func newStreamCall(interceptors []grpc.StreamServerInterceptor) *streamCall {
	c := &streamCall{next: make([]grpc.StreamHandler, len(interceptors))}
	last := len(interceptors) - 1
	c.next[last] = func(srv any, ss grpc.ServerStream) error { return c.final(srv, ss) }
	for i := last - 1; i >= 0; i-- {
		stage, next := interceptors[i+1], c.next[i+1]
		c.next[i] = func(srv any, ss grpc.ServerStream) error { return stage(srv, ss, c.info, next) }
	}
	return c
}
