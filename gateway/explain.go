package gateway

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// Explanation is the outcome of ExplainCall.
type Explanation struct {
	Method *policy.Method
	Record *policy.Record
	// Status is what the client would get from the chain ("OK" when the
	// call would be forwarded).
	Status string
}

// ExplainCall runs a call through the gateway's real chain stages
// (resolution, authentication, authorization) without forwarding it, and
// returns what each stage recorded. md is the call's metadata (e.g.
// "authorization: Bearer …"), requestJSON the request message in protojson
// form ("" for none), p the caller's peer (address and TLS state).
func (g *Gateway) ExplainCall(ctx context.Context, fullMethod string, md metadata.MD, requestJSON string, p *peer.Peer) (*Explanation, error) {
	return g.explain(ctx, fullMethod, md, requestJSON, p, "")
}

// ExplainAPIKey is ExplainCall for a call with API key keyID, known by its
// id alone: the principal is the one the key's bundle entry gives, after
// every check of an API-key call except the secret's (the bundle holds only
// its hash), and the call is then explained as ExplainCall does. A key that
// is unknown, disabled, expired or outside its cidrs (for p's address)
// explains as Unauthenticated, with the reason in Record.AuthnFailure.
func (g *Gateway) ExplainAPIKey(ctx context.Context, fullMethod, keyID, requestJSON string, p *peer.Peer) (*Explanation, error) {
	if keyID == "" {
		return nil, fmt.Errorf("gateway: explain: empty API key id")
	}
	return g.explain(ctx, fullMethod, metadata.MD{}, requestJSON, p, keyID)
}

func (g *Gateway) explain(ctx context.Context, fullMethod string, md metadata.MD, requestJSON string, p *peer.Peer, keyID string) (*Explanation, error) {
	m, ok := g.registry.Lookup(fullMethod)
	if !ok {
		return nil, fmt.Errorf("gateway: explain: no policy for %q", fullMethod)
	}
	var req proto.Message
	if requestJSON != "" {
		msg, err := g.newMessage(m.RequestType)
		if err != nil {
			return nil, fmt.Errorf("gateway: explain: %w", err)
		}
		if err := protojson.Unmarshal([]byte(requestJSON), msg); err != nil {
			return nil, fmt.Errorf("gateway: explain: --request is not a valid %s: %w", m.RequestType, err)
		}
		req = msg
	}
	rec := &policy.Record{DryRun: true}
	// WithIncoming, not metadata.NewIncomingContext: it replaces any
	// stripped mark in ctx, so the strip stage strips md.
	ctx = policy.NewRecordContext(policy.WithIncoming(ctx, md), rec)
	if p != nil {
		ctx = peer.NewContext(ctx, p)
	}
	chain := []grpc.UnaryServerInterceptor{stripUnary, resolve.UnaryServerInterceptor(g.registry)}
	if keyID != "" {
		if g.authn == nil {
			return nil, fmt.Errorf("gateway: explain: identity is not configured")
		}
		pr, reason := g.authn.APIKeyPrincipal(ctx, keyID)
		if pr == nil {
			rec.AuthnFailure = reason
			return &Explanation{Method: m, Record: rec, Status: codes.Unauthenticated.String()}, nil
		}
		rec.Principal = pr
		ctx = authn.NewContext(ctx, pr)
	}
	for _, s := range g.opts.stages {
		if s.Name == "ratelimit" || s.Name == "signature" || s.Name == "audit" || keyID != "" && s.Name == "authn" {
			// Explaining a call must not spend its rate-limit tokens or
			// its signature's nonce, nor be recorded as a call (the
			// access review would count its permissions as used); it
			// explains the authorization. A key known by its id has
			// been authenticated above, without its secret; authz still
			// checks the method's credential kinds, mTLS and bound token.
			continue
		}
		chain = append(chain, s.Unary)
	}
	info := &grpc.UnaryServerInfo{FullMethod: fullMethod}
	var run func(i int, ctx context.Context, req any) (any, error)
	run = func(i int, ctx context.Context, req any) (any, error) {
		if i == len(chain) {
			return nil, nil
		}
		return chain[i](ctx, req, info, func(ctx context.Context, req any) (any, error) { return run(i+1, ctx, req) })
	}
	var arg any
	if req != nil {
		arg = req
	}
	_, err := run(0, ctx, arg)
	return &Explanation{Method: m, Record: rec, Status: status.Code(err).String()}, nil
}
