package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/policy"
)

// errUnavailable refuses a call whose audit is required but cannot be
// persisted. It is fixed and reveals nothing about the sinks.
var errUnavailable = status.Error(codes.Unavailable, "audit unavailable")

// errPanic is the status recorded for a handler that panicked (the panic
// itself continues to the recovery stage outside).
var errPanic = status.Error(codes.Internal, "internal error")

// UnaryServerInterceptor returns a unary interceptor that writes one "call"
// record to l for every call, after it ends (also when it fails or
// panics). Place it before authentication so that refused calls are
// recorded: it puts a *policy.Record in the context (unless one is there)
// for the later stages to fill. See the package documentation for the
// record and for how required methods fail closed with codes.Unavailable
// "audit unavailable". It panics if l is nil. It is safe for concurrent
// use.
func UnaryServerInterceptor(l *Logger, opts ...Option) grpc.UnaryServerInterceptor {
	if l == nil {
		panic("audit: nil Logger")
	}
	o := evaluateOptions(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		if o.skip != nil && o.skip(info.FullMethod) {
			return handler(ctx, req)
		}
		c := o.begin(l, ctx, info.FullMethod)
		c.reqMsgs.Store(1)
		c.reqBytes.Store(size(req))
		if msg, ok := req.(proto.Message); ok && c.requestLevel() {
			c.setRequest(msg)
		}
		if err := c.gate(); err != nil {
			c.finish(err)
			return nil, err
		}
		defer c.onPanic()
		resp, err = handler(c.inner, req)
		if err == nil {
			c.respMsgs.Store(1)
			c.respBytes.Store(size(resp))
		}
		c.finish(err)
		return resp, err
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams, including
// the gateway's transparent proxy path: it counts the messages and bytes
// that pass through the stream (a message's size is its Len() when it has
// one, as the proxy's raw frames do, else its proto.Size).
func StreamServerInterceptor(l *Logger, opts ...Option) grpc.StreamServerInterceptor {
	if l == nil {
		panic("audit: nil Logger")
	}
	o := evaluateOptions(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if o.skip != nil && o.skip(info.FullMethod) {
			return handler(srv, ss)
		}
		c := o.begin(l, ss.Context(), info.FullMethod)
		c.stream = stream{ServerStream: ss, c: c}
		c.captureFirst = c.requestLevel()
		if err := c.gate(); err != nil {
			c.finish(err)
			return err
		}
		defer c.onPanic()
		err := handler(srv, &c.stream)
		c.finish(err)
		return err
	}
}

// SetRequest hands the audit interceptor the decoded first request
// message of the call that ctx belongs to, for methods with audit level
// "request". The stage that decodes requests on the proxy path (which the
// audit interceptor only sees as raw frames) calls it with the context it
// was given. It renders msg at once, so msg may change afterwards. It does
// nothing when ctx has no audited call or the method's level is not
// "request". It is safe for concurrent use.
func SetRequest(ctx context.Context, msg proto.Message) {
	var c *call
	if r := policy.RecordFrom(ctx); r != nil {
		c, _ = r.Audit.(*call)
	}
	if c == nil || msg == nil || !c.requestLevel() {
		return
	}
	c.setRequest(msg)
}

// call is the state of one audited call, in one allocation: the
// policy.Record (unless an outer stage brought one), the stream wrapper
// and the counters. The Record's Audit field points back to it.
type call struct {
	own    policy.Record
	rec    *policy.Record
	inner  context.Context // the handler's context
	outer  context.Context // the context as received
	stream stream

	l        *Logger
	o        *options
	m        *policy.Method
	method   string
	start    time.Time
	facts    facts
	gotFacts bool

	reqBytes, respBytes, reqMsgs, respMsgs atomic.Int64
	captureFirst                           bool
	request                                atomic.Pointer[json.RawMessage]
}

func (o *options) begin(l *Logger, ctx context.Context, fullMethod string) *call {
	c := &call{l: l, o: o, outer: ctx, method: recordedMethod(fullMethod), start: o.now()}
	c.m, _ = o.method(ctx)
	if r := policy.RecordFrom(ctx); r != nil {
		c.rec, c.inner = r, ctx
	} else {
		c.rec = &c.own
		c.inner = policy.NewRecordContext(ctx, c.rec)
	}
	c.rec.Audit = c
	return c
}

func (c *call) requestLevel() bool {
	return c.m != nil && c.m.Audit.Level == policy.AuditRequest
}

func (c *call) required() bool {
	return c.m != nil && (c.m.Sensitivity == policy.SensitivityRestricted || c.m.Audit.Required)
}

func (c *call) setRequest(msg proto.Message) {
	r := renderRequest(c.m, msg, c.o.maxRequest)
	c.request.Store(&r)
}

// gate makes a required method's intent durable before the call runs, or
// refuses the call.
func (c *call) gate() error {
	if !c.required() {
		return nil
	}
	if !c.l.Healthy() {
		return errUnavailable
	}
	e := c.l.NewEvent()
	c.fill(e, nil)
	e.Type = TypeIntent
	ctx, cancel := context.WithTimeout(c.outer, c.o.requiredTimeout)
	defer cancel()
	if err := c.l.Write(ctx, e); err != nil {
		return errUnavailable
	}
	return nil
}

func (c *call) fill(e *Event, p *policy.Principal) {
	if !c.gotFacts {
		c.o.gather(c.outer, &c.facts, p)
		c.gotFacts = true
	}
	c.facts.fill(e)
	e.Version, e.Time, e.Method = SchemaVersion, c.start, c.method
}

// onPanic records a panicking handler's call and lets the panic go on.
func (c *call) onPanic() {
	if r := recover(); r != nil {
		c.finish(errPanic)
		panic(r)
	}
}

// finish builds the call's record and enqueues it.
func (c *call) finish(err error) {
	rec := c.rec
	e := c.l.NewEvent()
	c.fill(e, rec.Principal)
	e.Type = TypeCall
	if p := rec.Principal; p != nil {
		e.Principal = Principal{ID: p.ID, Kind: p.Kind, Roles: p.Roles, Tenant: p.Tenant}
		if p.Credential != 0 {
			e.Credential = Credential{Kind: p.Credential.String(), ID: p.CredentialID}
		}
	}
	if d := rec.Decision; d != nil {
		e.Decision = Decision{Allowed: d.Allowed, Reason: d.Reason, FailedRequirement: d.FailedRequirement,
			Required: d.Required, Effective: d.Effective, MatchedRoles: d.MatchedRoles,
			Condition: d.Condition, BundleVersion: d.BundleVersion}
		if rec.Principal != nil && len(d.Roles) > 0 {
			e.Principal.Roles = d.Roles
		}
	}
	if sh := rec.Shadow; sh != nil {
		e.Decision.ShadowVersion, e.Decision.Disagreement = sh.Version, sh.Disagree
	}
	e.Resource, e.AuthnFailure = rec.Resource, rec.AuthnFailure
	e.RateLimit = RateLimit{Key: rec.RateLimitKey, Limited: rec.RateLimited, Degraded: rec.RateLimitDegraded}
	if err == nil {
		e.Status.Code = "OK"
	} else {
		st := status.Convert(err)
		e.Status = Status{Code: CodeName(st.Code()), Message: st.Message()}
	}
	e.DurationMicros = c.o.now().Sub(c.start).Microseconds()
	e.RequestBytes, e.ResponseBytes = c.reqBytes.Load(), c.respBytes.Load()
	e.RequestMessages, e.ResponseMessages = c.reqMsgs.Load(), c.respMsgs.Load()
	if c.requestLevel() && c.request.Load() == nil && c.o.request != nil {
		if msg, ok := c.o.request(c.inner); ok && msg != nil {
			c.setRequest(msg)
		}
	}
	if r := c.request.Load(); r != nil {
		e.Request, e.reqCanon = *r, true
	}
	c.l.Log(e)
}

// stream counts what passes through a server stream and captures the
// first request message for request-level audit. grpc-go lets one
// goroutine send while another receives, and the proxy's request pump may
// still be receiving when the handler returns, so the counters are atomic.
type stream struct {
	grpc.ServerStream
	c *call
}

func (s *stream) Context() context.Context { return s.c.inner }

func (s *stream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		c := s.c
		c.reqMsgs.Add(1)
		c.reqBytes.Add(size(m))
		if c.captureFirst && c.reqMsgs.Load() == 1 && c.request.Load() == nil {
			if msg, ok := m.(proto.Message); ok {
				c.setRequest(msg)
			}
		}
	}
	return err
}

func (s *stream) SendMsg(m any) error {
	n := size(m) // before sending: the sender may reuse m afterwards
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.c.respMsgs.Add(1)
		s.c.respBytes.Add(n)
	}
	return err
}

// size is the wire size of a message: Len() for raw frames, else
// proto.Size.
func size(m any) int64 {
	switch v := m.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case proto.Message:
		return int64(proto.Size(v))
	}
	return 0
}

// maxMethodBytes bounds the method name a record keeps: a client can send
// any :path (up to the header list limit) for a method that does not exist.
const maxMethodBytes = 256

// recordedMethod is fullMethod, or its first maxMethodBytes bytes (on a
// UTF-8 boundary) and a marker when it is longer.
func recordedMethod(fullMethod string) string {
	if len(fullMethod) <= maxMethodBytes {
		return fullMethod
	}
	cut := maxMethodBytes
	for cut > 0 && !utf8.RuneStart(fullMethod[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", fullMethod[:cut], len(fullMethod))
}
