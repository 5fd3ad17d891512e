package gateway

import (
	"bytes"
	"context"
	"iter"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/gateway/rest"
	adminv1 "github.com/portcullis/portcullis/gen/portcullis/admin/v1"
	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/postgres"
	"github.com/portcullis/portcullis/interceptors/audit/review"
	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
)

// The admin API (proto/portcullis/admin/v1) is served on the admin
// listener by its own grpc.Server built with the same interceptor chain as
// the public one (so it is authenticated, authorized and audited like any
// API) but without the proxy: nothing on the admin listener reaches a
// backend. gRPC requests (HTTP/2, application/grpc) go to that server; REST
// requests go through grpc-gateway to it in memory.

// adminService implements adminv1.AdminServiceServer over the live policy.
type adminService struct {
	adminv1.UnimplementedAdminServiceServer
	g *Gateway
}

func (a *adminService) GetStatus(context.Context, *adminv1.GetStatusRequest) (*adminv1.GetStatusResponse, error) {
	st := a.g.PolicyStatus()
	return st, nil
}

func (a *adminService) ListVersions(context.Context, *adminv1.ListVersionsRequest) (*adminv1.ListVersionsResponse, error) {
	return &adminv1.ListVersionsResponse{Versions: a.g.policyVersions()}, nil
}

func (a *adminService) ActivateVersion(_ context.Context, r *adminv1.ActivateVersionRequest) (*adminv1.ActivateVersionResponse, error) {
	if err := a.g.ActivateVersion(r.GetVersion()); err != nil {
		return nil, err
	}
	return &adminv1.ActivateVersionResponse{ActiveVersion: a.g.id.Engine().Version()}, nil
}

func (a *adminService) Rollback(context.Context, *adminv1.RollbackRequest) (*adminv1.RollbackResponse, error) {
	if err := a.g.Rollback(); err != nil {
		return nil, err
	}
	return &adminv1.RollbackResponse{ActiveVersion: a.g.id.Engine().Version()}, nil
}

func (a *adminService) SetShadow(_ context.Context, r *adminv1.SetShadowRequest) (*adminv1.SetShadowResponse, error) {
	if err := a.g.SetShadow(r.GetVersion()); err != nil {
		return nil, err
	}
	return &adminv1.SetShadowResponse{ShadowVersion: r.GetVersion()}, nil
}

func (a *adminService) ClearShadow(context.Context, *adminv1.ClearShadowRequest) (*adminv1.ClearShadowResponse, error) {
	a.g.ClearShadow()
	return &adminv1.ClearShadowResponse{}, nil
}

func (a *adminService) Explain(_ context.Context, r *adminv1.ExplainRequest) (*adminv1.ExplainResponse, error) {
	m, ok := a.g.registry.Lookup(r.GetMethod())
	if !ok {
		return nil, status.Error(codes.NotFound, "unknown method")
	}
	in := &authz.Input{Time: time.Now(), Method: m.FullMethod, Transport: policy.TransportGRPC}
	if p := r.GetPrincipal(); p != nil {
		kind := p.GetKind()
		if kind == "" {
			kind = policy.KindUser
		}
		cred, ok := policy.ParseCredential(p.GetCredentialKind())
		if !ok {
			cred = policy.CredentialJWT
		}
		in.Principal = &policy.Principal{ID: p.GetId(), Kind: kind, Credential: cred, Roles: p.GetRoles(), Groups: p.GetGroups(),
			Scopes: p.GetScopes(), HasScopes: p.GetHasScopes(), Tenant: p.GetTenant(), SPIFFEID: p.GetSpiffeId(), MTLS: p.GetMtls(), Bound: p.GetBound()}
	}
	if r.GetRequestJson() != "" {
		msg, err := a.g.newMessage(m.RequestType)
		if err != nil {
			return nil, status.Error(codes.Internal, "internal error")
		}
		if err := protojson.Unmarshal([]byte(r.GetRequestJson()), msg); err != nil {
			return nil, status.Error(codes.InvalidArgument, "request_json is not a valid "+m.RequestType)
		}
		in.Request = msg
	}
	d := a.g.Explain(m, in)
	return &adminv1.ExplainResponse{Allowed: d.Allowed, Reason: d.Reason, FailedRequirement: d.FailedRequirement, Roles: d.Roles,
		EffectivePermissions: d.Effective, MatchedRoles: d.MatchedRoles, Condition: d.Condition, BundleVersion: d.BundleVersion}, nil
}

// GetAccessReview builds the access review against the live bundle from
// the audit log: the PostgreSQL table when audit.postgres is configured
// (every replica's records), else the gateway's own log files
// (audit.file.dir).
func (a *adminService) GetAccessReview(ctx context.Context, r *adminv1.GetAccessReviewRequest) (*adminv1.GetAccessReviewResponse, error) {
	ac := a.g.cfg.Audit
	if ac == nil || ac.File == nil && ac.Postgres == nil {
		return nil, status.Error(codes.FailedPrecondition, "no audit sink configured")
	}
	window := time.Duration(r.GetSinceSeconds()) * time.Second
	if window <= 0 {
		window = 30 * 24 * time.Hour
	}
	from := time.Now().Add(-window)
	var events iter.Seq2[*audit.Event, error]
	if p := ac.Postgres; p != nil {
		var password func() string // as the sink's (auditStage)
		if pw := a.g.secrets.get(keyPostgresPassword); pw.Ref() != "" {
			password = pw.Value
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		conn, err := postgres.Connect(ctx, p.DSN, password)
		if err != nil {
			a.g.log.Warn("access review: PostgreSQL unreachable", "err", err)
			return nil, status.Error(codes.Unavailable, "audit database unavailable")
		}
		defer func() { _ = conn.Close(context.Background()) }() // read-only session
		events = postgres.Read(ctx, conn, p.Table, from)
	} else {
		files, err := filepath.Glob(filepath.Join(ac.File.Dir, "*.jsonl"))
		if err != nil || len(files) == 0 {
			return nil, status.Error(codes.FailedPrecondition, "no audit records yet")
		}
		events = audit.ReadFiles(files...)
	}
	rep, err := review.Review(events, a.g.id.cur.Load().bundle, a.g.registry, from)
	if err != nil {
		a.g.log.Warn("access review failed", "err", err)
		return nil, status.Error(codes.Internal, "internal error")
	}
	var buf bytes.Buffer
	if err := review.WriteJSON(&buf, rep); err != nil {
		return nil, status.Error(codes.Internal, "internal error")
	}
	return &adminv1.GetAccessReviewResponse{ReportJson: buf.String()}, nil
}

// buildAdminAPI creates the admin gRPC server and its REST front. unary and
// stream are the gateway's chain.
func (g *Gateway) buildAdminAPI(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) error {
	g.adminGRPC = grpc.NewServer(
		grpc.Creds(inproc.NewCredentials(nil)),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(1<<20),
	)
	adminv1.RegisterAdminServiceServer(g.adminGRPC, &adminService{g: g})
	g.adminMem = inproc.Listen()
	conn, err := g.adminMem.Dial()
	if err != nil {
		return err
	}
	g.adminConn = conn
	var services []policy.Service
	for _, t := range policy.Tables() {
		for _, s := range t.Services {
			if s.Name == adminv1.AdminService_ServiceDesc.ServiceName {
				services = append(services, s)
			}
		}
	}
	opts := []rest.Option{rest.WithMaxBodyBytes(1 << 20)}
	if g.sig != nil { // callers that must sign can use the admin REST API too
		opts = append(opts, rest.WithMiddleware(g.sig.restMiddleware))
	}
	front, err := rest.New(context.Background(), conn, services, opts...)
	if err != nil {
		return err
	}
	g.adminREST = front
	return nil
}

// adminHandler routes the admin listener: gRPC to the admin server, the
// admin REST paths to its front, and the operational endpoints.
func (g *Gateway) adminHandler(ops http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.adminGRPC.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			g.adminREST.ServeHTTP(w, r)
			return
		}
		ops.ServeHTTP(w, r)
	})
}
