package gateway

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Compressed messages. The gateway accepts gzip-compressed messages (the
// encoding grpc-go ships) and forwards them transparently: grpc-go
// decompresses on receive and the proxy sends on with the client's
// encoding, so backends receive what the client sent. Two bounds hold for
// a compression bomb:
//
//   - size: the per-route and per-method limits apply to the decompressed
//     message, and grpc-go stops inflating one byte past the server's
//     receive limit (ResourceExhausted "… larger than max …");
//   - ratio: a request message that expands more than maxExpansion times
//     its compressed size, once past expansionFloor bytes, is refused with
//     ResourceExhausted "request message expands too far when
//     decompressed" before it is forwarded (an expansionStats handler sees
//     both sizes; the size-limit stage refuses the message).
//
// The REST front refuses compressed bodies (415).
const (
	maxExpansion   = 512
	expansionFloor = 1 << 20
)

var errExpanded = status.Error(codes.ResourceExhausted, "request message expands too far when decompressed")

// expansionStats is the gRPC server's stats handler: it flags the calls
// that received a message over the expansion ratio. It keeps no other
// state and does nothing for uncompressed messages.
type expansionStats struct{}

type expansionKey struct{}

// expansion is one call's flag, set by HandleRPC in the receive path
// before RecvMsg returns the message.
type expansion struct{ over atomic.Bool }

func (expansionStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, expansionKey{}, &expansion{})
}

func (expansionStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	p, ok := s.(*stats.InPayload)
	if !ok || p.CompressedLength == 0 || p.Length <= expansionFloor || p.Length <= maxExpansion*p.CompressedLength {
		return
	}
	if e, ok := ctx.Value(expansionKey{}).(*expansion); ok {
		e.over.Store(true)
	}
}

func (expansionStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (expansionStats) HandleConn(context.Context, stats.ConnStats)                       {}

// overExpanded reports whether the call received a message over the ratio.
func overExpanded(ctx context.Context) bool {
	e, ok := ctx.Value(expansionKey{}).(*expansion)
	return ok && e.over.Load()
}
