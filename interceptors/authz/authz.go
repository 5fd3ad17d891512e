package authz

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/fields"
)

// Source returns the engine to decide with; the gateway swaps engines on
// bundle reloads. It is called once per call and must be safe for
// concurrent use.
type Source interface {
	Engine() *Engine
}

// SourceFunc adapts a function to Source.
type SourceFunc func() *Engine

// Engine calls f.
func (f SourceFunc) Engine() *Engine { return f() }

// Static returns a Source that always returns e.
func Static(e *Engine) Source { return SourceFunc(func() *Engine { return e }) }

var (
	errDenied      = status.Error(codes.PermissionDenied, "permission denied")
	errUnauthentic = status.Error(codes.Unauthenticated, "missing or invalid credentials")
	errNoEngine    = status.Error(codes.Unavailable, "authorization unavailable")
)

// authorize decides one call. The returned error is a status error:
// Unauthenticated without a principal, PermissionDenied otherwise; calls
// without a method policy in ctx (gateway-owned services) pass.
func (o *options) authorize(ctx context.Context, src Source, req any) error {
	m, ok := o.method(ctx)
	if !ok || m == nil {
		return nil
	}
	e := src.Engine()
	if e == nil {
		return errNoEngine // fail closed
	}
	// The clock is read only if a condition reads context.time or the
	// rate meter counts the call.
	in := Input{Method: m.FullMethod, Transport: policy.TransportGRPC, now: o.now}
	in.Principal, _ = o.principal(ctx)
	if msg, ok := req.(proto.Message); ok {
		in.Request = msg
	} else if o.request != nil {
		in.Request, _ = o.request(ctx)
	}
	o.facts(ctx, &in)
	if m.Resource != "" && in.Request != nil {
		in.Resource = fields.String(in.Request, m.Resource)
	}
	var se *Engine
	if o.shadow != nil {
		se = o.shadow()
	}
	rec := policy.RecordFrom(ctx)
	if e.usesRate || se != nil && se.usesRate {
		if k := rateKey(in.Principal); k != "" {
			in.Time = o.now()
			if rec != nil && rec.DryRun {
				in.RequestRate = o.rates.Peek(k, in.Time) // an explained call is not a call
			} else {
				in.RequestRate = o.rates.Observe(k, in.Time)
			}
		}
	}
	v := e.Decide(m, &in)
	if rec != nil {
		if !rec.NoDecisionTrace {
			rec.Decision = e.trace(m, &in, v) // the verdict above, not a second decision
		}
		rec.Resource = in.Resource
	}
	if se != nil {
		sv := se.Decide(m, &in)
		disagree := sv.Allowed != v.Allowed
		if rec != nil {
			rec.Shadow = &policy.ShadowResult{Version: se.Version(), Allowed: sv.Allowed, Disagree: disagree}
		}
		if disagree && o.onDisagree != nil && (rec == nil || !rec.DryRun) {
			o.onDisagree(m, v, sv)
		}
	}
	if v.Allowed {
		return nil
	}
	if v.Failed == FailedUnauthentic {
		return errUnauthentic
	}
	return errDenied
}

// facts fills the transport, from the REST front's internal metadata when
// trusted, and the client address (options.clientAddr).
func (o *options) facts(ctx context.Context, in *Input) {
	// IncomingValue reads a key without copying the metadata.
	if o.trustInternal {
		if v := policy.IncomingValue(ctx, policy.KeyTransport); len(v) == 1 && v[0] == policy.TransportHTTP {
			in.Transport = policy.TransportHTTP
		}
	}
	// Resolved on every call (no allocation); formatted only if a
	// condition reads it.
	in.addr = o.clientAddr(ctx)
}

// UnaryServerInterceptor authorizes unary calls; the decoded request is
// available to conditions directly.
func UnaryServerInterceptor(src Source, opts ...Option) grpc.UnaryServerInterceptor {
	o := evaluate(opts)
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if err := o.authorize(ctx, src, req); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// StreamServerInterceptor authorizes streaming (and proxied) calls before
// the handler runs. Conditions that read the request need WithRequestFunc
// (the gateway decodes the first message before this stage).
func StreamServerInterceptor(src Source, opts ...Option) grpc.StreamServerInterceptor {
	o := evaluate(opts)
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if err := o.authorize(ss.Context(), src, nil); err != nil {
			return err
		}
		return h(srv, ss)
	}
}
