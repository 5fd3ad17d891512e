package grpctest

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Stream is a fake grpc.ServerStream for calling a stream interceptor as a
// plain function. It records the headers set on it; messages are not
// supported. It is safe for concurrent use.
type Stream struct {
	Ctx context.Context

	mu     sync.Mutex
	header metadata.MD
}

var _ grpc.ServerStream = (*Stream)(nil)

// NewStream returns a fake stream whose Context is ctx.
func NewStream(ctx context.Context) *Stream { return &Stream{Ctx: ctx} }

// Context returns the stream's context.
func (s *Stream) Context() context.Context { return s.Ctx }

// SetHeader merges md into the recorded header.
func (s *Stream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader merges md into the recorded header.
func (s *Stream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

// SetTrailer ignores md.
func (s *Stream) SetTrailer(metadata.MD) {}

// SendMsg is not supported and returns nil.
func (s *Stream) SendMsg(any) error { return nil }

// RecvMsg is not supported and returns nil.
func (s *Stream) RecvMsg(any) error { return nil }

// Header returns a copy of the recorded header.
func (s *Stream) Header() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header.Copy()
}

// TransportStream is a fake grpc.ServerTransportStream, so that a unary
// interceptor called as a plain function can use grpc.SetHeader. It is safe
// for concurrent use.
type TransportStream struct {
	FullMethod string

	mu     sync.Mutex
	header metadata.MD
}

var _ grpc.ServerTransportStream = (*TransportStream)(nil)

// WithTransportStream returns ctx carrying a new fake transport stream for
// fullMethod, and that stream.
func WithTransportStream(ctx context.Context, fullMethod string) (context.Context, *TransportStream) {
	ts := &TransportStream{FullMethod: fullMethod}
	return grpc.NewContextWithServerTransportStream(ctx, ts), ts
}

// Method returns FullMethod.
func (s *TransportStream) Method() string { return s.FullMethod }

// SetHeader merges md into the recorded header.
func (s *TransportStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader merges md into the recorded header.
func (s *TransportStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

// SetTrailer ignores md.
func (s *TransportStream) SetTrailer(metadata.MD) error { return nil }

// Header returns a copy of the recorded header.
func (s *TransportStream) Header() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header.Copy()
}
