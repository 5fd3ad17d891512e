package proxy

import (
	"context"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Fixed client-facing errors: they say what failed, never which backend or why.
var (
	errNoMethod    = status.Error(codes.Internal, "proxy: method name unavailable")
	errNoConn      = status.Error(codes.Internal, "proxy: no backend connection")
	errUnavailable = status.Error(codes.Unavailable, "backend unavailable")
)

// forwardDesc opens every backend call as a bidi stream: the pump never
// assumes a call's shape, the backend's own registration enforces it.
var forwardDesc = grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// Handler returns a grpc.StreamHandler, for grpc.UnknownServiceHandler, that
// forwards every call it receives to the backend chosen by director. The
// server must use Codec (grpc.ForceServerCodecV2(Codec{})).
//
// Wire behaviour:
//   - Request metadata is forwarded except pseudo-headers (":authority"),
//     "content-type", "user-agent" (grpc-go sends its own), "te",
//     "grpc-timeout" (the deadline is forwarded instead), "grpc-encoding",
//     "grpc-accept-encoding", "grpc-previous-rpc-attempts", grpc-status
//     keys and HTTP hop-by-hop headers ("connection", "keep-alive", ...).
//     The director may rewrite the rest.
//   - The content-subtype (application/grpc+json...) is forwarded and the
//     bytes are not touched, so any codec passes; plain application/grpc
//     reaches the backend as application/grpc+proto.
//   - Response headers go to the client as soon as the backend sends them
//     (the same keys are dropped from them and from the trailer);
//     a trailers-only backend response stays trailers-only. Messages follow
//     one at a time, then the backend's trailers and its status, unchanged
//     (code, message, details).
//   - The client's deadline is the backend call's deadline. If the client
//     cancels, the backend call is cancelled; when the backend ends the
//     call, the client gets its status. The client's half-close is
//     forwarded as CloseSend.
//   - Director errors: see Director. A backend that cannot be reached gives
//     codes.Unavailable "backend unavailable" without waiting for the
//     deadline (unless WithCallOptions adds grpc.WaitForReady).
//
// Handler panics if director is nil. The returned handler is safe for
// concurrent use.
func Handler(director Director, opts ...Option) grpc.StreamHandler {
	if director == nil {
		panic("proxy: Handler: nil Director")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	h := &handler{director: director, compressionMatches: o.compressionMatches, outgoing: o.outgoing, responseHeader: o.responseHeader, singleRequest: o.singleRequest,
		incoming: o.incoming, defaultTimeout: o.defaultTimeout}
	// The codec goes last so no user option can replace it.
	h.callOptions = append(append([]grpc.CallOption{}, o.callOptions...), grpc.ForceCodecV2(Codec{}))
	return h.handle
}

// callContext derives the backend call's context from the client's: with
// the default timeout when the client sent no deadline, else cancellable
// when the call has a request pump (which aborts the backend call when the
// client side fails). A call without one (single) uses the client's
// context itself: grpc-go cancels that as soon as the handler returns,
// which ends the backend call too, so a context of its own would only cost
// an allocation and a registration with its parent on every call.
func (h *handler) callContext(parent context.Context, fullMethod string, single bool) (context.Context, context.CancelFunc) {
	if h.defaultTimeout != nil {
		if _, has := parent.Deadline(); !has {
			if d := h.defaultTimeout(fullMethod); d > 0 {
				return context.WithTimeout(parent, d)
			}
		}
	}
	if single {
		return parent, noCancel
	}
	return context.WithCancel(parent)
}

func noCancel() {}

type handler struct {
	outgoing           func(context.Context, metadata.MD)
	responseHeader     func(context.Context, metadata.MD)
	singleRequest      func(ctx context.Context, fullMethod string) bool
	incoming           func(ctx context.Context) (metadata.MD, bool)
	defaultTimeout     func(fullMethod string) time.Duration
	director           Director
	compressionMatches bool
	callOptions        []grpc.CallOption // user options, then the codec
}

func (h *handler) handle(_ any, ss grpc.ServerStream) error {
	fullMethod, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return errNoMethod
	}
	// ss.Context() carries the client's deadline and cancellation to the
	// backend call, and grpc-go cancels it as soon as we return; with a
	// request pump, cancel also ends the backend call when the pump fails
	// (see callContext).
	single := h.singleRequest != nil && h.singleRequest(ss.Context(), fullMethod)
	ctx, cancel := h.callContext(ss.Context(), fullMethod, single)
	defer cancel()
	var in, out metadata.MD
	if h.incoming != nil {
		// Shared with the caller: read it, copy what goes to the backend.
		in, _ = h.incoming(ctx)
		out = forwardedCopy(in, len(in))
	} else {
		in, _ = metadata.FromIncomingContext(ctx) // a private copy
		out = forwardedMetadata(in)
	}
	if h.outgoing != nil {
		h.outgoing(ctx, out)
	}
	ctx = metadata.NewOutgoingContext(ctx, out)

	outCtx, conn, err := h.director.Connect(ctx, fullMethod)
	if err != nil {
		return directorError(ctx, err)
	}
	if conn == nil {
		return errNoConn
	}
	// NewStream sends the request headers; with the default fail-fast
	// behaviour it fails at once with Unavailable when the backend's
	// connection is in TRANSIENT_FAILURE instead of waiting for the deadline.
	cs, err := conn.NewStream(outCtx, &forwardDesc, fullMethod, h.callOptionsFor(ss.Context(), in)...)
	if err != nil {
		return backendError(err)
	}

	if single {
		// One request message: forward it, and the half-close, from this
		// goroutine before relaying the responses, as grpc-go's own unary
		// and server-streaming handlers read exactly one message. No second
		// goroutine, no channel.
		if err := forwardOne(ss, cs); err != nil {
			return err
		}
		return h.forwardResponses(ss, cs)
	}
	// Requests flow in their own goroutine so that each direction blocks only
	// on its own peer. Its error is recorded before cancel() so that, when it
	// aborts the backend call, the reason is here by the time forwardResponses
	// sees the resulting Canceled.
	reqErr := make(chan error, 1)
	go func() {
		if err := forwardRequests(ss, cs); err != nil {
			reqErr <- err
			cancel()
		}
	}()
	// This goroutine does not wait for the request pump: if the backend ends
	// first, that pump may sit in ss.RecvMsg, which grpc-go unblocks when the
	// stream finishes right after we return.
	respErr := h.forwardResponses(ss, cs)
	select {
	case err := <-reqErr:
		return err // the client side failed first (too large, bad encoding...)
	default:
		return respErr
	}
}

// forwardRequests pumps client messages to the backend until the client
// half-closes (nil) or a side fails.
func forwardRequests(ss grpc.ServerStream, cs grpc.ClientStream) error {
	var f Frame
	defer f.Reset() // release the last message's buffers
	for {
		// Blocks until the client sends. grpc-go returns flow-control
		// window to the client only as messages are read here, so a slow
		// backend throttles the client instead of filling our memory.
		if err := ss.RecvMsg(&f); err != nil {
			if err == io.EOF {
				// The client half-closed: forward the half-close so the
				// backend sees end of input. CloseSend cannot fail in a way
				// the backend's status would not report better.
				_ = cs.CloseSend()
				return nil
			}
			return err
		}
		// Blocks while the backend's window and grpc-go's per-stream write
		// quota are full; on return the Frame may be refilled (Codec gave
		// the send path its own reference on the buffers).
		if err := cs.SendMsg(&f); err != nil {
			if err == io.EOF {
				// The backend ended the call; its status reaches the client
				// through RecvMsg in forwardResponses. Stop reading.
				return nil
			}
			return err
		}
	}
}

// forwardOne forwards the single request message of a call whose method
// takes one (unary or server-streaming), then the half-close. A client
// that half-closes without a message has that forwarded: the backend
// refuses the call, as it would without the gateway. Messages after the
// first are not read, as grpc-go's server does not read them; they cannot
// reach the backend.
func forwardOne(ss grpc.ServerStream, cs grpc.ClientStream) error {
	var f Frame
	defer f.Reset()
	if err := ss.RecvMsg(&f); err != nil {
		if err == io.EOF {
			_ = cs.CloseSend()
			return nil
		}
		return err
	}
	// io.EOF: the backend ended the call already; its status reaches the
	// client through forwardResponses.
	if err := cs.SendMsg(&f); err != nil && err != io.EOF {
		return err
	}
	_ = cs.CloseSend()
	return nil
}

// forwardResponses relays the backend's header, messages, trailer and
// status to the client. It returns the backend's final status error (nil for
// OK) or the error that stopped it.
func (h *handler) forwardResponses(ss grpc.ServerStream, cs grpc.ClientStream) error {
	// Header blocks until the backend sends response headers or ends the
	// call, so a backend that sends headers before any message (or never
	// sends one) has them reach the client at once.
	md, err := cs.Header()
	if err != nil {
		return err
	}
	// nil means the backend answered trailers-only (or failed before its
	// headers): send no headers, so the client also gets trailers-only.
	if md != nil {
		out := forwardedMetadata(md)
		if h.responseHeader != nil {
			h.responseHeader(ss.Context(), out)
		}
		if err := ss.SendHeader(out); err != nil {
			return err
		}
	}
	var f Frame
	defer f.Reset()
	for {
		if err := cs.RecvMsg(&f); err != nil {
			// The trailer is complete once RecvMsg has failed, on success
			// (io.EOF) as on error. grpc-go writes grpc-status,
			// grpc-message and grpc-status-details-bin from the status we
			// return, not from this metadata.
			ss.SetTrailer(forwardedMetadata(cs.Trailer()))
			if err == io.EOF {
				return nil
			}
			// The backend's status error, returned as is: grpc-go writes its
			// code, message and details unchanged.
			return err
		}
		// Blocks until the client's window and our write quota take the
		// message: a slow client stalls the backend via flow control.
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
	}
}

// callOptionsFor returns the backend call options for one call: the
// client's content-subtype and compressor when they differ from the
// defaults, then the fixed options (which allocate nothing per call).
func (h *handler) callOptionsFor(ctx context.Context, in metadata.MD) []grpc.CallOption {
	sub := contentSubtype(in)
	var comp string
	if h.compressionMatches {
		comp = recvCompressor(ctx)
	}
	if sub == "" && comp == "" {
		return h.callOptions
	}
	out := make([]grpc.CallOption, 0, len(h.callOptions)+2)
	if sub != "" {
		out = append(out, grpc.CallContentSubtype(sub))
	}
	if comp != "" {
		out = append(out, grpc.UseCompressor(comp))
	}
	return append(out, h.callOptions...)
}

// recvCompressor returns the registered compressor the client used for its
// messages, or "" for none. grpc-go exposes the request's grpc-encoding only
// on its transport stream, which the server stores in the context.
func recvCompressor(ctx context.Context) string {
	s, ok := grpc.ServerTransportStreamFromContext(ctx).(interface{ RecvCompress() string })
	if !ok {
		return ""
	}
	name := s.RecvCompress()
	if name == "" || name == encoding.Identity || encoding.GetCompressor(name) == nil {
		return ""
	}
	return name
}

func directorError(ctx context.Context, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return errUnavailable
}

// backendError hides why a backend could not be reached (grpc-go's
// message names the address and the dial error); other codes, such as
// DeadlineExceeded, pass as they are.
func backendError(err error) error {
	if status.Code(err) == codes.Unavailable {
		return errUnavailable
	}
	return err
}
