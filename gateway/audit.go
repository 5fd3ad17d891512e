package gateway

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/postgres"
	"github.com/portcullis/portcullis/interceptors/requestid"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// auditStage builds the audit stage and its logger, or returns ok false
// without an audit block. It runs before authentication so that refused
// calls are recorded too; it creates the call's policy.Record, which the
// later stages fill in, and writes one record after the call ends.
func (g *Gateway) auditStage() (Stage, bool, error) {
	ac := g.cfg.Audit
	if ac == nil {
		return Stage{}, false, nil
	}
	var sinks []audit.Sink
	if f := ac.File; f != nil {
		s, err := audit.NewFileSink(f.Dir, audit.WithMaxBytes(f.MaxBytes), audit.WithSyncInterval(f.FsyncInterval))
		if err != nil {
			return Stage{}, false, fmt.Errorf("gateway: audit.file: %w", err)
		}
		sinks = append(sinks, s)
	}
	if p := ac.Postgres; p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		popts := []postgres.Option{postgres.WithTable(p.Table)}
		if pw := g.secrets.get(keyPostgresPassword); pw.Ref() != "" {
			// On the pgx config of every (re)connect, never in the DSN.
			popts = append(popts, postgres.WithPassword(pw.Value))
		}
		s, err := postgres.New(ctx, p.DSN, popts...)
		if err != nil {
			return Stage{}, false, fmt.Errorf("gateway: audit.postgres: %w", err)
		}
		sinks = append(sinks, s)
	}
	full := audit.Block
	if ac.OnFull == "drop" {
		full = audit.Drop
	}
	l, err := audit.New(sinks, audit.WithQueueSize(int(ac.QueueSize)), audit.WithFullPolicy(full),
		audit.WithBatch(audit.DefaultBatchSize, ac.BatchWait), audit.WithErrorLog(g.log))
	if err != nil {
		return Stage{}, false, fmt.Errorf("gateway: audit: %w", err)
	}
	g.audit = l
	if err := g.prom.Register(l); err != nil {
		return Stage{}, false, fmt.Errorf("gateway: audit metrics: %w", err)
	}
	opts := []audit.Option{
		// The stage runs before resolution (see chain): look the policy up.
		audit.WithMethodFunc(func(ctx context.Context) (*policy.Method, bool) {
			if m, ok := resolve.FromContext(ctx); ok {
				return m, true // ExplainCall resolves first
			}
			name, ok := grpc.Method(ctx)
			if !ok {
				return nil, false
			}
			return g.registry.Lookup(name)
		}),
		audit.WithRequestIDFunc(func(ctx context.Context) (string, string) {
			info, _ := requestid.FromContext(ctx)
			return info.RequestID, info.TraceID
		}),
		audit.WithTrustInternalMetadata(true),
		audit.WithClientAddrFunc(g.clientIP.Addr),
	}
	return Stage{Name: "audit", Unary: audit.UnaryServerInterceptor(l, opts...), Stream: audit.StreamServerInterceptor(l, opts...)}, true, nil
}
