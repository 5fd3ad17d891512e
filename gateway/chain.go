package gateway

import (
	"strings"

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

// chain returns the unary and stream interceptors in the documented order.
func (g *Gateway) chain() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	panics := prometheus.NewCounter(prometheus.CounterOpts{Name: "portcullis_panics_total", Help: "Handler panics recovered by the gateway."})
	g.prom.MustRegister(panics)
	rec := []recovery.Option{recovery.WithLogger(g.log), recovery.WithCounter(func(string) { panics.Inc() })}
	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(rec...),
		stripUnary,
		requestid.UnaryServerInterceptor(),
		g.metrics.UnaryServerInterceptor(),
	}
	stream := []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(rec...),
		stripStream,
		requestid.StreamServerInterceptor(requestid.WithoutMetadataRewrite()),
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
