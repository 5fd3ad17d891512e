package gateway

import (
	"context"
	"errors"
	"io"
	"strings"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// The decode stage reads the first request message of calls whose policy
// needs request fields (resource, condition, a field rate-limit key,
// request-level audit), decodes it with the method's message type, puts it
// in the context for later stages, and replays the original bytes to the
// proxy untouched. Every other call is never decoded. It runs after
// authentication, so anonymous clients cannot make the gateway decode.

type requestKey struct{}

// requestFromContext returns the decoded first request message.
func requestFromContext(ctx context.Context) (proto.Message, bool) {
	m, ok := ctx.Value(requestKey{}).(proto.Message)
	return m, ok
}

var errMalformed = status.Error(codes.InvalidArgument, "malformed request message")

// newMessage returns an empty message of the named type: the Go type when
// it is compiled in, else a dynamic message from a descriptor set.
func (g *Gateway) newMessage(name string) (proto.Message, error) {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name)); err == nil {
		return mt.New().Interface(), nil
	}
	md, err := g.messageDescriptor(name)
	if err != nil {
		return nil, err
	}
	return dynamicpb.NewMessage(md), nil
}

// messageDescriptor finds a message type compiled in or in a descriptor set.
func (g *Gateway) messageDescriptor(name string) (protoreflect.MessageDescriptor, error) {
	d, err := resolver{g: g}.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, err
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, errors.New("gateway: " + name + " is not a message")
	}
	return md, nil
}

func (g *Gateway) decodeStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	m, ok := resolve.FromContext(ss.Context())
	signed := ok && g.sig != nil && g.sig.requiredGRPC(ss.Context())
	if !ok || !m.NeedsRequest() && !signed {
		return h(srv, ss)
	}
	first, err, refused := recvFirst(ss, messageLimit(g.routes, m.FullMethod, m))
	if refused != nil {
		return refused
	}
	w := middleware.WrapServerStream(ss)
	rs := &replayStream{WrappedServerStream: w, first: first, firstErr: err}
	if signed { // the signature stage checks the digest of these bytes
		b := first.Bytes()
		if b == nil {
			b = []byte{} // no message, or an empty one: the empty message is signed
		}
		w.WrappedContext = context.WithValue(ss.Context(), firstFrameKey{}, b)
	}
	if err == nil && m.NeedsRequest() {
		msg, merr := g.newMessage(m.RequestType)
		if merr != nil {
			return status.Error(codes.Internal, "internal error")
		}
		if uerr := proto.Unmarshal(first.Bytes(), msg); uerr != nil {
			first.Reset()
			return errMalformed
		}
		w.WrappedContext = context.WithValue(w.Context(), requestKey{}, msg)
		audit.SetRequest(ss.Context(), msg) // request fields for the audit record
	}
	return h(srv, rs)
}

// recvFirst reads the first request message of a call for a stage that
// inspects it before anything is forwarded (decode, validate). It returns
// the message and io.EOF when the client sent none; or, as refused, the
// call's error: a non-protobuf content-subtype (errCodec), a receive error,
// a message over the expansion ratio or over limit (never decoded).
func recvFirst(ss grpc.ServerStream, limit int) (first *proxy.Frame, eof, refused error) {
	if !protobufCall(ss.Context()) {
		return nil, nil, errCodec
	}
	first = &proxy.Frame{}
	err := ss.RecvMsg(first)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return nil, nil, err
	case err == nil && overExpanded(first):
		first.Reset()
		return nil, nil, errExpanded
	case err == nil && overLimit(first, limit):
		first.Reset()
		return nil, nil, errTooLarge
	}
	return first, err, nil
}

// replayStream returns the message decodeStream consumed on the first
// RecvMsg, then reads from the client again.
type replayStream struct {
	*middleware.WrappedServerStream
	first    *proxy.Frame
	firstErr error
	replayed bool
}

func (s *replayStream) RecvMsg(m any) error {
	if s.replayed {
		return s.WrappedServerStream.RecvMsg(m)
	}
	s.replayed = true
	if s.firstErr != nil {
		return s.firstErr
	}
	if f, ok := m.(*proxy.Frame); ok {
		f.Reset()
		*f = *s.first // hand the buffers over without copying
		return nil
	}
	defer s.first.Reset()
	if pm, ok := m.(proto.Message); ok {
		return proto.Unmarshal(s.first.Bytes(), pm)
	}
	return status.Error(codes.Internal, "internal error")
}

// errCodec refuses calls whose messages the gateway would read as
// protobuf while the backend reads them with another codec.
var errCodec = status.Error(codes.Unimplemented, "this method takes protobuf messages only (content-type application/grpc or application/grpc+proto)")

// protobufCall reports whether the call's messages are protobuf, the only
// encoding the gateway decodes. A call with another content-subtype
// (application/grpc+json, …) is forwarded untouched when no stage reads
// its messages, but refused where one does (decode, validation, signature
// digest): bytes that parse both as JSON and as protobuf would let the
// gateway check one message while the backend acts on another.
func protobufCall(ctx context.Context) bool {
	v := policy.IncomingValue(ctx, "content-type")
	if len(v) == 0 {
		return true // grpc-go's default
	}
	ct := strings.ToLower(strings.TrimSpace(v[0]))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return len(v) == 1 && (ct == "application/grpc" || ct == "application/grpc+proto")
}
