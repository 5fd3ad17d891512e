package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/interceptors/resolve"
)

// The validate stage enforces protovalidate constraints (buf.validate
// options) on the request messages of methods whose request type declares
// any, for both transports: every client message of the call is decoded
// and validated, the first before anything is forwarded, and a message that
// breaks a constraint ends the call with InvalidArgument and a
// google.rpc.BadRequest detail listing the violations. Requests of other
// methods are never decoded here. The stage runs last, after authorization
// and the rate limit, so that only callers allowed to make the call learn
// the constraints, and invalid calls still count against their limits.

// maxViolationsInMessage bounds the violations named in the status message
// (the BadRequest detail lists them all).
const maxViolationsInMessage = 3

// validation holds the validator and the methods it applies to.
type validation struct {
	g       *Gateway
	v       protovalidate.Validator
	methods map[string]string // full method → request type, for constrained methods
}

// validationStage returns the stage, or false when no routed method's
// request type declares a constraint.
func (g *Gateway) validationStage() (Stage, bool, error) {
	methods := map[string]string{}
	var descs []protoreflect.MessageDescriptor
	for _, name := range g.registry.Methods() {
		m, _ := g.registry.Lookup(name)
		if _, routed := g.routes[m.Service()]; !routed {
			continue
		}
		md, err := g.messageDescriptor(m.RequestType)
		if err != nil {
			return Stage{}, false, fmt.Errorf("gateway: %s: request type: %w", name, err)
		}
		if constrained(md, map[protoreflect.FullName]bool{}) {
			methods[name] = m.RequestType
			descs = append(descs, md)
		}
	}
	if len(methods) == 0 {
		return Stage{}, false, nil
	}
	// Compile every constraint now: a constraint that does not compile is a
	// start-up error, not a failure of the first call.
	v, err := protovalidate.New(protovalidate.WithMessageDescriptors(descs...))
	if err != nil {
		return Stage{}, false, fmt.Errorf("gateway: protovalidate: %w", err)
	}
	vs := &validation{g: g, v: v, methods: methods}
	return Stage{Name: "validate", Unary: vs.unary, Stream: vs.stream}, true, nil
}

// constrained reports whether md, or a message it contains, declares a
// protovalidate constraint.
func constrained(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if proto.HasExtension(md.Options(), validate.E_Message) {
		return true
	}
	for i := 0; i < md.Oneofs().Len(); i++ {
		if proto.HasExtension(md.Oneofs().Get(i).Options(), validate.E_Oneof) {
			return true
		}
	}
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		if proto.HasExtension(fd.Options(), validate.E_Field) {
			return true
		}
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Message() != nil && constrained(fd.Message(), seen) {
			return true
		}
	}
	return false
}

// check validates one message; the error is the call's status.
func (vs *validation) check(msg proto.Message) error {
	err := vs.v.Validate(msg)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return status.Error(codes.Internal, "internal error") // a runtime CEL error: the gateway's fault
	}
	br := &errdetails.BadRequest{}
	var parts []string
	for _, v := range ve.Violations {
		field := protovalidate.FieldPathString(v.Proto.GetField())
		desc := v.Proto.GetMessage()
		if desc == "" {
			desc = v.Proto.GetRuleId()
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
		if len(parts) < maxViolationsInMessage {
			parts = append(parts, strings.TrimPrefix(field+": "+desc, ": "))
		}
	}
	text := "invalid request: " + strings.Join(parts, "; ")
	if n := len(ve.Violations) - len(parts); n > 0 {
		text += fmt.Sprintf(" (and %d more)", n)
	}
	st, derr := status.New(codes.InvalidArgument, text).WithDetails(br)
	if derr != nil {
		return status.Error(codes.InvalidArgument, text)
	}
	return st.Err()
}

// checkBytes decodes one raw request message of type name and validates it.
func (vs *validation) checkBytes(name string, b []byte) error {
	msg, err := vs.g.newMessage(name)
	if err != nil {
		return status.Error(codes.Internal, "internal error")
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		return errMalformed
	}
	return vs.check(msg)
}

func (vs *validation) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := resolve.FromContext(ctx); ok {
		if _, need := vs.methods[m.FullMethod]; need {
			if pm, ok := req.(proto.Message); ok {
				if err := vs.check(pm); err != nil {
					return nil, err
				}
			}
		}
	}
	return h(ctx, req)
}

func (vs *validation) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	m, ok := resolve.FromContext(ss.Context())
	if !ok {
		return h(srv, ss)
	}
	name, need := vs.methods[m.FullMethod]
	if !need {
		return h(srv, ss)
	}
	// The first message is validated before the handler opens the backend
	// stream; later ones as the handler receives them.
	limit := messageLimit(vs.g.routes, m.FullMethod, m)
	first, err, refused := recvFirst(ss, limit)
	if refused != nil {
		return refused
	}
	if err == nil {
		// The decode stage may have decoded this message already (it is
		// replayed from there): validate that one instead of decoding again.
		var verr error
		if msg, decoded := requestFromContext(ss.Context()); decoded {
			verr = vs.check(msg)
		} else {
			verr = vs.checkBytes(name, first.Bytes())
		}
		if verr != nil {
			first.Reset()
			return verr
		}
	}
	later := &validatingStream{ServerStream: ss, vs: vs, name: name, limit: limit}
	return h(srv, &replayStream{WrappedServerStream: middleware.WrapServerStream(later), first: first, firstErr: err})
}

// validatingStream validates every message the handler receives.
type validatingStream struct {
	grpc.ServerStream
	vs    *validation
	name  string
	limit int // the call's message limit, checked before decoding
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	switch v := m.(type) {
	case *proxy.Frame:
		if overExpanded(v) {
			v.Reset()
			return errExpanded
		}
		if overLimit(v, s.limit) {
			v.Reset()
			return errTooLarge
		}
		if err := s.vs.checkBytes(s.name, v.Bytes()); err != nil {
			v.Reset()
			return err
		}
	case proto.Message:
		return s.vs.check(v)
	}
	return nil
}
