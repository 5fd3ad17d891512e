package proxy

import (
	"context"

	"google.golang.org/grpc"
)

// Director routes one call: it picks the backend connection for fullMethod
// ("/package.Service/Method") and returns the context for the backend call.
//
// The ctx passed in is derived from the client's stream context: it carries
// the client's deadline, is cancelled when the client goes away or the call
// ends, still holds the incoming metadata and peer, and already holds the
// outgoing metadata that Handler will send (the client's request metadata
// minus transport keys). The director rewrites what the backend receives by
// returning a context derived from ctx with different outgoing metadata
// (metadata.AppendToOutgoingContext, metadata.NewOutgoingContext). The
// returned context must be derived from ctx, or deadline and cancellation
// stop propagating.
//
// A status error from Connect reaches the client unchanged; any other error
// becomes codes.Unavailable with a fixed message (or Canceled /
// DeadlineExceeded when ctx is done), so routing details never leak. Connect
// is called concurrently from many calls and must be safe for that.
type Director interface {
	Connect(ctx context.Context, fullMethod string) (context.Context, grpc.ClientConnInterface, error)
}

// DirectorFunc adapts an ordinary function to the Director interface.
type DirectorFunc func(ctx context.Context, fullMethod string) (context.Context, grpc.ClientConnInterface, error)

// Connect calls f(ctx, fullMethod).
func (f DirectorFunc) Connect(ctx context.Context, fullMethod string) (context.Context, grpc.ClientConnInterface, error) {
	return f(ctx, fullMethod)
}
