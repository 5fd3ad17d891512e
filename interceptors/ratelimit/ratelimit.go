package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/portcullis/portcullis/policy"
)

// Metadata keys the interceptors set. The gateway's REST front maps them
// to the HTTP headers Retry-After, RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (IETF RateLimit header fields draft), with status 429.
const (
	// HeaderLimit (response header) is the limit's capacity, Burst+1.
	HeaderLimit = "ratelimit-limit"
	// HeaderRemaining (response header) is how many more calls would be
	// allowed right now.
	HeaderRemaining = "ratelimit-remaining"
	// HeaderReset (response header) is the seconds, rounded up, until the
	// key is back to full capacity.
	HeaderReset = "ratelimit-reset"
	// TrailerRetryAfter (trailer, refused calls only) is the seconds,
	// rounded up, until a retry can succeed.
	TrailerRetryAfter = "retry-after"
)

// Fixed messages; they reveal nothing about keys or limits.
const (
	msgLimited     = "rate limit exceeded"
	msgUnavailable = "rate limit unavailable"
)

var errUnavailable = status.Error(codes.Unavailable, msgUnavailable)

// UnaryServerInterceptor returns a unary server interceptor that enforces
// the call's rate limit with store before the handler runs. Calls without a
// policy or a limit pass untouched. Every limited call takes one cell under
// its key (see the package doc); an allowed call gets the response headers
// ratelimit-limit, ratelimit-remaining and ratelimit-reset; a refused one
// gets them too, plus the trailer retry-after, and codes.ResourceExhausted
// "rate limit exceeded" with a google.rpc.RetryInfo detail. If the store
// fails the call gets codes.Unavailable "rate limit unavailable" (fail
// closed). Shadow limits never refuse and set no metadata. It panics if
// store is nil. It is safe for concurrent use.
func UnaryServerInterceptor(store Store, opts ...Option) grpc.UnaryServerInterceptor {
	if store == nil {
		panic("ratelimit: nil Store")
	}
	o := evaluate(opts)
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m, ok := o.method(ctx)
		if !ok || m == nil {
			return handler(ctx, req)
		}
		send := sender{
			header:  func(md metadata.MD) { _ = grpc.SetHeader(ctx, md) },
			trailer: func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) },
		}
		if err := o.check(ctx, store, m, req, send); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns a stream server interceptor that enforces
// the stream's rate limit when it starts, exactly as UnaryServerInterceptor
// does for a call (one cell per stream, same codes and metadata), and then
// the method's policy.StreamLimits:
//
//   - MaxConcurrentPerPrincipal: streams of the method open at once per
//     principal (anonymous: per client IP) on this replica; one more gets
//     codes.ResourceExhausted "too many concurrent streams" before the
//     handler runs.
//   - MaxMessages: client messages per stream; RecvMsg of one more returns
//     codes.ResourceExhausted "too many messages".
//   - MessagesPerSecond: client message rate per stream, with a burst of
//     one second's worth; RecvMsg over it returns codes.ResourceExhausted
//     "message rate exceeded".
//   - MaxDuration: the stream's context gets that deadline; afterwards
//     RecvMsg and SendMsg return codes.DeadlineExceeded "stream duration
//     exceeded", and so does the stream if the handler ended with an error.
//     A handler blocked in RecvMsg is released only when the client sends or
//     the handler watches its context (the gateway's proxy does).
//
// Only the method name, metadata, peer and principal are read, so it works
// on the transparent proxy path; a request-field key needs WithRequestFunc.
// It panics if store is nil. It is safe for concurrent use.
func StreamServerInterceptor(store Store, opts ...Option) grpc.StreamServerInterceptor {
	if store == nil {
		panic("ratelimit: nil Store")
	}
	o := evaluate(opts)
	conc := newConcurrency()
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		m, ok := o.method(ctx)
		if !ok || m == nil {
			return handler(srv, ss)
		}
		send := sender{
			header:  func(md metadata.MD) { _ = ss.SetHeader(md) },
			trailer: ss.SetTrailer,
		}
		if err := o.check(ctx, store, m, nil, send); err != nil {
			return err
		}
		if m.Stream == (policy.StreamLimits{}) {
			return handler(srv, ss)
		}
		return o.limitStream(srv, ss, m, conc, handler)
	}
}

// sender sets response metadata the way the call kind allows.
type sender struct {
	header, trailer func(metadata.MD)
}

// check takes one cell for the call and returns the status error to end
// it with, or nil to let it through.
func (o *options) check(ctx context.Context, store Store, m *policy.Method, req any, send sender) error {
	rl := o.limit(ctx, m)
	l := LimitOf(rl)
	if !l.Valid() {
		return nil
	}
	key := o.key(ctx, m, rl, req)
	res, err := store.Take(ctx, key, l, 1)
	if o.onDecision != nil {
		o.onDecision(ctx, Decision{Method: m.FullMethod, Key: key, Shadow: rl.Shadow, Result: res, Err: err})
	}
	rec := policy.RecordFrom(ctx)
	if rec != nil {
		rec.RateLimitKey = key
	}
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			// A Fallback already counted the failure behind ErrUnavailable.
			o.metrics.storeError()
		}
		if rl.Shadow {
			return nil
		}
		if rec != nil {
			rec.RateLimited = true
		}
		return errUnavailable
	}
	if res.Allowed {
		o.metrics.observe(m.FullMethod, ResultAllowed)
		if !rl.Shadow {
			send.header(rateHeaders(res))
		}
		return nil
	}
	if rec != nil {
		// Set in shadow mode too: the record shows the call was over the
		// limit, and its OK status shows it was let through.
		rec.RateLimited = true
	}
	if rl.Shadow {
		o.metrics.observe(m.FullMethod, ResultShadowLimited)
		return nil
	}
	o.metrics.observe(m.FullMethod, ResultLimited)
	send.header(rateHeaders(res))
	send.trailer(metadata.MD{TrailerRetryAfter: {seconds(res.RetryAfter)}})
	return limitedError(res.RetryAfter)
}

// rateHeaders are the ratelimit-* response headers of res.
func rateHeaders(res Result) metadata.MD {
	return metadata.MD{
		HeaderLimit:     {strconv.Itoa(res.Limit)},
		HeaderRemaining: {strconv.Itoa(max(res.Remaining, 0))},
		HeaderReset:     {seconds(res.ResetAfter)},
	}
}

// limitedError is ResourceExhausted "rate limit exceeded" with RetryInfo.
func limitedError(retry time.Duration) error {
	st, err := status.New(codes.ResourceExhausted, msgLimited).
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	if err != nil {
		// Only a marshalling failure, impossible for RetryInfo.
		return status.Error(codes.ResourceExhausted, msgLimited)
	}
	return st.Err()
}

// seconds formats d in whole seconds, rounded up.
func seconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
