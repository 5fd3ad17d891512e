package inproc

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/policy"
)

// Direct is a grpc.ClientConnInterface that runs each call through a
// server's stream interceptor chain and handler in the calling process,
// without HTTP/2: no framing, no header encoding, no transport goroutines.
// The REST front uses it to reach the gateway's own chain: the call is
// the one a gRPC client would make (same chain, same handler, same
// status), minus the in-memory HTTP/2 hop, which cost as much CPU as
// proxying the call to its backend.
//
// What the handler sees is what grpc-go's server would give it for the
// same call on a Listener connection:
//   - a stream context carrying the caller's deadline and cancellation
//     but none of the caller's other context values; a peer whose
//     AuthInfo is AuthInfo (IsInternal reports true); grpc.Method and
//     grpc.MethodFromServerStream; grpc.SetHeader, SendHeader and
//     SetTrailer;
//   - as incoming metadata, the caller's outgoing metadata with keys
//     lowercased, plus "content-type: application/grpc"; keys and values
//     grpc-go would refuse to send are refused the same way (Internal);
//   - every call as a stream of unknown shape (StreamServerInfo with both
//     IsClientStream and IsServerStream, as for grpc.UnknownServiceHandler);
//   - request messages over the receive limit refused with
//     ResourceExhausted before the chain sees them, as grpc-go refuses
//     them before the handler.
//
// The handler's error becomes the call's status as grpc-go's server makes
// it: a status error as it is, a context error as Canceled or
// DeadlineExceeded, anything else Unknown. Response headers and trailers
// reach grpc.Header and grpc.Trailer call options; for streams,
// ClientStream.Header and Trailer.
//
// Unary calls (Invoke) run the chain on the caller's goroutine; streams
// (NewStream) on one goroutine each, with unbuffered hand-offs in both
// directions, so a slow reader slows the writer instead of queueing
// messages. Direct is safe for concurrent use.
type Direct struct {
	chain   grpc.StreamServerInterceptor
	handler grpc.StreamHandler
	server  encoding.CodecV2 // the server's codec: what RecvMsg and SendMsg convert with
	client  encoding.CodecV2 // the caller's messages (proto)
	maxRecv int              // largest request message, as grpc.MaxRecvMsgSize
	maxSend int              // largest response message, as grpc.MaxCallRecvMsgSize
	peer    *peer.Peer
	slots   chan struct{} // one per call in progress (MaxConcurrentCalls)
}

// MaxConcurrentCalls bounds the calls in progress on one Direct, as
// grpc.MaxConcurrentStreams bounded them on the in-memory connection it
// replaces: further calls wait for a slot (or their context's end).
const MaxConcurrentCalls = 1024

// acquire takes a call slot, waiting while all are in use.
func (d *Direct) acquire(ctx context.Context) (release func(), err error) {
	select {
	case d.slots <- struct{}{}:
		return func() { <-d.slots }, nil
	default:
	}
	select {
	case d.slots <- struct{}{}:
		return func() { <-d.slots }, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// NewDirect returns a Direct connection that runs chain (nil: none) and
// then handler for every call, converting messages with the server codec
// (the gateway's raw codec) and enforcing maxRecv on request and maxSend on
// response messages (0: 4 MiB, grpc-go's default receive limit).
func NewDirect(chain grpc.StreamServerInterceptor, handler grpc.StreamHandler, server encoding.CodecV2, maxRecv, maxSend int) *Direct {
	if chain == nil {
		chain = func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, ss)
		}
	}
	if maxRecv <= 0 {
		maxRecv = 4 << 20
	}
	if maxSend <= 0 {
		maxSend = 4 << 20
	}
	return &Direct{
		chain: chain, handler: handler, server: server, client: encoding.GetCodecV2(protoenc.Name),
		maxRecv: maxRecv, maxSend: maxSend, slots: make(chan struct{}, MaxConcurrentCalls),
		peer: &peer.Peer{Addr: directAddr{}, AuthInfo: AuthInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}},
	}
}

type directAddr struct{}

func (directAddr) Network() string { return "inproc" }
func (directAddr) String() string  { return "portcullis-inproc" }

var _ net.Addr = directAddr{}

// Invoke runs one unary call: args is its request, reply receives the
// response.
func (d *Direct) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	release, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	ss, err := d.newServerStream(ctx, method)
	if err != nil {
		return err
	}
	req, err := d.marshalRequest(args)
	if err != nil {
		ss.cancel()
		return err
	}
	ss.unary = &unaryMessages{req: req}
	err = d.run(ss)
	// End the call before its request is freed: a request reader that
	// outlives the handler (a proxy pump) gets an error, not a freed buffer.
	ss.mu.Lock()
	ss.ended = true
	header, trailer := ss.header, ss.trailer
	resp := ss.unary.resp
	ss.unary.resp = nil
	ss.mu.Unlock()
	ss.cancel()
	setCallMetadata(opts, header, trailer)
	req.Free()
	if err != nil {
		resp.Free()
		return err
	}
	if resp == nil {
		return status.Error(codes.Internal, "inproc: the handler sent no response message")
	}
	defer resp.Free()
	return d.unmarshalResponse(resp, reply)
}

// NewStream starts a call of any shape; the chain and handler run on a
// goroutine of their own until the call ends.
func (d *Direct) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	release, err := d.acquire(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := d.newServerStream(ctx, method)
	if err != nil {
		release()
		return nil, err
	}
	st := &streamMessages{
		reqs:       make(chan mem.BufferSlice),
		resps:      make(chan mem.BufferSlice),
		closeSend:  make(chan struct{}),
		headerSent: make(chan struct{}),
		done:       make(chan struct{}),
	}
	ss.stream = st
	cs := &clientStream{d: d, ss: ss, st: st, ctx: ctx, opts: opts, clientStreams: desc.ClientStreams, serverStreams: desc.ServerStreams}
	go func() {
		defer release()
		err := d.run(ss)
		ss.mu.Lock()
		st.err = err
		ss.mu.Unlock()
		st.markHeaderSent()
		close(st.done)
		ss.cancel() // ends the server side and unblocks a pending client call
	}()
	return cs, nil
}

// run runs the chain and the handler and returns the call's status error
// (nil for OK), as grpc-go's server would write it.
func (d *Direct) run(ss *serverStream) error {
	err := d.chain(nil, ss, &grpc.StreamServerInfo{FullMethod: ss.method, IsClientStream: true, IsServerStream: true}, d.handler)
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// newServerStream builds the server side of a call: its context, from
// ctx's deadline, cancellation and outgoing metadata only.
func (d *Direct) newServerStream(ctx context.Context, method string) (*serverStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	md, err := incomingFrom(ctx)
	if err != nil {
		return nil, err
	}
	ss := &serverStream{d: d, method: method}
	sctx, cancel := context.WithCancel(detached{ctx})
	ss.cancel = cancel
	sctx = peer.NewContext(sctx, d.peer)
	// The front's own metadata: its internal keys are the gateway's, so
	// the strip stage uses it as it is (the peer marks the call internal).
	sctx = policy.WithStrippedIncoming(sctx, md)
	ss.ctx = grpc.NewContextWithServerTransportStream(sctx, transportStream{ss})
	return ss, nil
}

// incomingFrom turns the caller's outgoing metadata into the handler's
// incoming metadata, checking it as grpc-go checks what it sends.
func incomingFrom(ctx context.Context) (metadata.MD, error) {
	// A private copy with lowercase keys, appended pairs merged: edited in
	// place.
	md, _ := metadata.FromOutgoingContext(ctx)
	if md == nil {
		md = make(metadata.MD, 1)
	}
	for k, vs := range md {
		if reserved[k] {
			delete(md, k)
			continue
		}
		if err := validPair(k, vs); err != nil {
			return nil, err
		}
	}
	md["content-type"] = contentType
	return md, nil
}

// contentType is the content-type of every call: grpc-go's server sees it
// in the incoming metadata. Shared: readers must not modify it.
var contentType = []string{"application/grpc"}

// reserved are the keys grpc-go's client never sends from call metadata
// (it writes its own or derives them from the call).
var reserved = map[string]bool{
	"content-type": true, "user-agent": true, "te": true, "grpc-message-type": true, "grpc-encoding": true,
	"grpc-message": true, "grpc-status": true, "grpc-timeout": true, "grpc-status-details-bin": true,
}

// validPair refuses what grpc-go's client refuses to send: pseudo-headers,
// keys outside [0-9a-z-_.], and non-printable values for keys without the
// "-bin" suffix.
func validPair(k string, vs []string) error {
	if k == "" || k[0] == ':' {
		return status.Errorf(codes.Internal, "header key %q is a pseudo-header or empty", k)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return status.Errorf(codes.Internal, "header key %q contains illegal characters", k)
		}
	}
	if strings.HasSuffix(k, "-bin") {
		return nil
	}
	for _, v := range vs {
		if !policy.IsMetadataText(v) {
			return status.Errorf(codes.Internal, "header key %q contains value with non-printable ASCII characters", k)
		}
	}
	return nil
}

// detached keeps a context's deadline and cancellation, not its values:
// the handler sees only what a server-side stream context would carry.
type detached struct{ parent context.Context }

func (c detached) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c detached) Done() <-chan struct{}       { return c.parent.Done() }
func (c detached) Err() error                  { return c.parent.Err() }
func (c detached) Value(any) any               { return nil }

// AfterFunc lets context.WithCancel(detached) register with the parent's
// cancellation instead of starting a goroutine to watch it.
func (c detached) AfterFunc(f func()) func() bool { return context.AfterFunc(c.parent, f) }

// marshalRequest encodes a caller's request message. Its size is checked
// when the handler receives it.
func (d *Direct) marshalRequest(m any) (mem.BufferSlice, error) {
	data, err := d.client.Marshal(m)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "inproc: encoding the request: %v", err)
	}
	return data, nil
}

// unmarshalResponse decodes a response message into the caller's reply
// (its size was checked when the handler sent it).
func (d *Direct) unmarshalResponse(data mem.BufferSlice, reply any) error {
	if err := d.client.Unmarshal(data, reply); err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

// setCallMetadata fills the grpc.Header and grpc.Trailer call options.
func setCallMetadata(opts []grpc.CallOption, header, trailer metadata.MD) {
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = trailer
		}
	}
}

// serverStream is the handler's side of one call: grpc.ServerStream and
// grpc.ServerTransportStream.
type serverStream struct {
	d      *Direct
	method string
	ctx    context.Context
	cancel context.CancelFunc

	unary  *unaryMessages  // Invoke
	stream *streamMessages // NewStream

	mu         sync.Mutex
	header     metadata.MD
	trailer    metadata.MD
	headerSent bool
	ended      bool // Invoke returned: RecvMsg refuses
}

// unaryMessages is one unary call's request and response.
type unaryMessages struct {
	req     mem.BufferSlice
	reqRead bool
	resp    mem.BufferSlice
}

// streamMessages are the hand-offs between a stream's client and server.
type streamMessages struct {
	reqs       chan mem.BufferSlice // client → server
	resps      chan mem.BufferSlice // server → client
	closeSend  chan struct{}        // closed by CloseSend
	closeOnce  sync.Once
	headerSent chan struct{} // closed when the header is sent or the call ends
	headerOnce sync.Once
	done       chan struct{} // closed when the handler returned
	err        error         // the call's status error, set before done
}

func (st *streamMessages) markHeaderSent() { st.headerOnce.Do(func() { close(st.headerSent) }) }

// transportStream is the call's grpc.ServerTransportStream (grpc.Method,
// grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer on the stream context),
// whose SetTrailer, unlike the stream's, returns an error.
type transportStream struct{ *serverStream }

func (t transportStream) SetTrailer(md metadata.MD) error {
	t.serverStream.SetTrailer(md)
	return nil
}

func (s *serverStream) Context() context.Context { return s.ctx }
func (s *serverStream) Method() string           { return s.method }

func (s *serverStream) SetHeader(md metadata.MD) error {
	if md.Len() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent {
		return status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *serverStream) SendHeader(md metadata.MD) error {
	if err := s.SetHeader(md); err != nil {
		return err
	}
	s.mu.Lock()
	if s.headerSent {
		s.mu.Unlock()
		return status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")
	}
	s.headerSent = true
	s.mu.Unlock()
	if s.stream != nil {
		s.stream.markHeaderSent()
	}
	return nil
}

func (s *serverStream) SetTrailer(md metadata.MD) {
	if md.Len() == 0 {
		return
	}
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}

func (s *serverStream) SendMsg(m any) error {
	data, err := s.d.server.Marshal(m)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if n := data.Len(); n > s.d.maxSend {
		// As grpc-go's server (MaxSendMsgSize): the handler's send fails, so
		// the call's status, metrics and audit record agree.
		data.Free()
		return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, s.d.maxSend)
	}
	if s.unary != nil {
		s.mu.Lock()
		s.headerSent = true
		if s.unary.resp != nil {
			s.mu.Unlock()
			data.Free()
			return status.Error(codes.Internal, "inproc: more than one response message on a unary call")
		}
		s.unary.resp = data
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	s.headerSent = true
	s.mu.Unlock()
	s.stream.markHeaderSent()
	select {
	case s.stream.resps <- data:
		return nil
	case <-s.ctx.Done():
		data.Free()
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *serverStream) RecvMsg(m any) error {
	var data mem.BufferSlice
	if s.unary != nil {
		s.mu.Lock()
		switch {
		case s.ended:
			s.mu.Unlock()
			return status.Error(codes.Canceled, "inproc: the call has ended")
		case s.unary.reqRead:
			s.mu.Unlock()
			return io.EOF
		}
		s.unary.reqRead = true
		data = s.unary.req
		data.Ref() // the unary call frees its own reference when it ends
		s.mu.Unlock()
	} else {
		select {
		case d, ok := <-s.stream.reqs:
			if !ok {
				return io.EOF
			}
			data = d
		case <-s.stream.closeSend:
			// CloseSend may race a last SendMsg that was already handed
			// over; reqs is unbuffered, so nothing is left behind.
			return io.EOF
		case <-s.ctx.Done():
			return status.FromContextError(s.ctx.Err()).Err()
		}
	}
	defer data.Free()
	if n := data.Len(); n > s.d.maxRecv {
		// As grpc-go's server: refused on receive, inside the chain (so the
		// refusal is audited and counted like any other).
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, s.d.maxRecv)
	}
	if err := s.d.server.Unmarshal(data, m); err != nil {
		return status.Errorf(codes.Internal, "grpc: error unmarshalling request: %v", err)
	}
	return nil
}

// clientStream is the caller's side of a stream.
type clientStream struct {
	d    *Direct
	ss   *serverStream
	st   *streamMessages
	ctx  context.Context
	opts []grpc.CallOption
	// clientStreams and serverStreams are the method's shape. For methods
	// taking one request, SendMsg after the call ended returns nil, not
	// io.EOF, as grpc-go's does (generated clients fail on any SendMsg
	// error; the status comes from RecvMsg). For methods with one
	// response, RecvMsg returns the call's status after it.
	clientStreams, serverStreams bool
}

func (c *clientStream) Header() (metadata.MD, error) {
	select {
	case <-c.st.headerSent:
	case <-c.st.done:
	case <-c.ctx.Done():
		return nil, status.FromContextError(c.ctx.Err()).Err()
	}
	c.ss.mu.Lock()
	defer c.ss.mu.Unlock()
	if !c.ss.headerSent && c.ss.header.Len() == 0 {
		// The handler ended without a header (trailers-only): nothing to
		// return; RecvMsg gives the status. Headers it set but never sent
		// are returned below, as grpc-go writes them before the status.
		return nil, nil
	}
	return c.ss.header.Copy(), nil
}

func (c *clientStream) Trailer() metadata.MD {
	select {
	case <-c.st.done:
	default:
		return nil // as grpc-go: only complete once RecvMsg has failed
	}
	c.ss.mu.Lock()
	defer c.ss.mu.Unlock()
	return c.ss.trailer.Copy()
}

func (c *clientStream) CloseSend() error {
	c.st.closeOnce.Do(func() { close(c.st.closeSend) })
	return nil
}

func (c *clientStream) Context() context.Context { return c.ctx }

func (c *clientStream) SendMsg(m any) error {
	data, err := c.d.marshalRequest(m)
	if err != nil {
		return err
	}
	select {
	case c.st.reqs <- data:
		return nil
	case <-c.st.done:
		data.Free()
		if !c.clientStreams {
			return nil
		}
		return io.EOF // the call ended; its status comes from RecvMsg
	case <-c.ctx.Done():
		data.Free()
		return status.FromContextError(c.ctx.Err()).Err()
	}
}

func (c *clientStream) RecvMsg(m any) error {
	select {
	case data := <-c.st.resps:
		err := c.d.unmarshalResponse(data, m)
		data.Free()
		if err != nil {
			c.ss.cancel() // as grpc-go: a failed receive ends the call
			return err
		}
		if !c.serverStreams {
			// One response: as grpc-go, wait for the call's status and
			// return it (a handler may fail after its response), and
			// refuse a second message.
			return c.finishSingle()
		}
		return nil
	case <-c.st.done:
		// Messages handed over before the handler returned were received
		// above; resps is unbuffered, so none is pending now.
		if err := c.status(); err != nil {
			return err
		}
		return io.EOF
	case <-c.ctx.Done():
		return status.FromContextError(c.ctx.Err()).Err()
	}
}

// finishSingle ends a call whose method has one response message, after
// that message: the status (nil for OK), with the call options set.
func (c *clientStream) finishSingle() error {
	select {
	case data := <-c.st.resps:
		data.Free()
		c.ss.cancel()
		<-c.st.done
		return status.Error(codes.Internal, "cardinality violation: expected <EOF> for non server-streaming RPCs, but received another message")
	case <-c.st.done:
	case <-c.ctx.Done():
		return status.FromContextError(c.ctx.Err()).Err()
	}
	return c.status()
}

// status is an ended call's status error (nil for OK), after it sets the
// grpc.Header and grpc.Trailer call options.
func (c *clientStream) status() error {
	c.ss.mu.Lock()
	header, trailer, err := c.ss.header, c.ss.trailer, c.st.err
	c.ss.mu.Unlock()
	setCallMetadata(c.opts, header, trailer)
	return err
}
