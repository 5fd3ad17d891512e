package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/policy"
)

var (
	errStreams     = status.Error(codes.ResourceExhausted, "too many concurrent streams")
	errMessages    = status.Error(codes.ResourceExhausted, "too many messages")
	errMessageRate = status.Error(codes.ResourceExhausted, "message rate exceeded")
	errDuration    = status.Error(codes.DeadlineExceeded, "stream duration exceeded")
)

// limitStream enforces m.Stream around handler.
func (o *options) limitStream(srv any, ss grpc.ServerStream, m *policy.Method, conc *concurrency, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	sl := m.Stream
	if sl.MaxConcurrentPerPrincipal > 0 {
		key := o.keyFor(ctx, m, policy.KeyPrincipal, "", nil)
		if !conc.acquire(key, sl.MaxConcurrentPerPrincipal) {
			o.metrics.observe(m.FullMethod, ResultLimited)
			if rec := policy.RecordFrom(ctx); rec != nil {
				rec.RateLimitKey, rec.RateLimited = key, true
			}
			return errStreams
		}
		defer conc.release(key)
	}
	if sl.MaxMessages == 0 && sl.MessagesPerSecond == 0 && sl.MaxDuration == 0 {
		return handler(srv, ss)
	}
	s := &limitedStream{ServerStream: ss, ctx: ctx, maxMessages: sl.MaxMessages}
	if r := sl.MessagesPerSecond; r > 0 {
		s.interval = int64(time.Second) / int64(r)
		s.burst = int64(r) - 1
		s.start = time.Now()
	}
	if sl.MaxDuration > 0 {
		var cancel context.CancelFunc
		s.ctx, cancel = context.WithTimeout(ctx, sl.MaxDuration)
		defer cancel()
		s.timed = true
	}
	err := handler(srv, s)
	if err != nil && s.expired() {
		return errDuration
	}
	return err
}

// limitedStream counts and paces the client's messages and carries the
// duration deadline. gRPC allows one RecvMsg and one SendMsg at a time, so
// the counters need no lock.
type limitedStream struct {
	grpc.ServerStream
	ctx context.Context

	maxMessages uint32
	received    uint32

	// Message rate: GCRA, interval ns per message, burst extra messages.
	interval, burst, tat int64
	start                time.Time

	timed bool
}

func (s *limitedStream) Context() context.Context { return s.ctx }

// expired reports whether MaxDuration (not the client's own deadline or
// cancellation) has ended the stream.
func (s *limitedStream) expired() bool {
	return s.timed && errors.Is(s.ctx.Err(), context.DeadlineExceeded) && s.ServerStream.Context().Err() == nil
}

func (s *limitedStream) SendMsg(m any) error {
	if s.expired() {
		return errDuration
	}
	return s.ServerStream.SendMsg(m)
}

func (s *limitedStream) RecvMsg(m any) error {
	if s.expired() {
		return errDuration
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.expired() {
		return errDuration
	}
	if s.maxMessages > 0 {
		if s.received == s.maxMessages {
			return errMessages
		}
		s.received++
	}
	if s.interval > 0 {
		c := gcra(int64(time.Since(s.start)), s.tat, s.interval, s.burst, 1, 1)
		if c.granted == 0 {
			return errMessageRate
		}
		s.tat = c.tat
	}
	return nil
}

// concurrency counts open streams per key on this replica. Entries exist
// only while streams are open, so it is bounded by the number of open
// streams. It is safe for concurrent use.
type concurrency struct {
	mu sync.Mutex
	n  map[string]uint32
}

func newConcurrency() *concurrency { return &concurrency{n: make(map[string]uint32)} }

// acquire counts one more stream for key unless limit are open already.
func (c *concurrency) acquire(key string, limit uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= limit {
		return false
	}
	c.n[key]++
	return true
}

func (c *concurrency) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] <= 1 {
		delete(c.n, key)
		return
	}
	c.n[key]--
}
