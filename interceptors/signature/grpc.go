package signature

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// Metadata keys of the gRPC profile.
const (
	// MetadataSignatureInput carries the Signature-Input member.
	MetadataSignatureInput = "x-signature-input"
	// MetadataSignature carries the Signature member.
	MetadataSignature = "x-signature"
	// MetadataContentDigest carries the RFC 9530 digest of the first
	// request message, e.g. "sha-256=:…:".
	MetadataContentDigest = "x-content-digest"
)

// grpcRequired are the components every gRPC signature covers.
var grpcRequired = []string{"@path", "@authority", MetadataContentDigest}

// deterministic encodes messages the way the client helper does.
var deterministic = proto.MarshalOptions{Deterministic: true}

// UnaryServerInterceptor returns a unary server interceptor that verifies
// the signature of every call for which WithRequired reports true (see the
// package documentation for the profile), including the digest of the
// request message: its raw bytes from WithFirstMessageBytes when that
// reports them, else its deterministic protobuf encoding. A refused call
// gets codes.Unauthenticated "invalid request signature" and the handler
// is not called; the handler sees the signature through FromContext. It is
// safe for concurrent use.
func (v *Verifier) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !v.o.requiredGRPC(ctx) {
			return handler(ctx, req)
		}
		s, digest, why := v.checkGRPC(ctx, info.FullMethod)
		if why == "" {
			b, ok := v.firstBytes(ctx)
			if !ok {
				b, why = messageBytes(req)
			}
			if why == "" {
				why = checkDigest(digest, b)
			}
		}
		if why == "" {
			why = v.useNonce(ctx, s)
		}
		if why != "" {
			return nil, v.refuse(ctx, info.FullMethod, why)
		}
		return handler(context.WithValue(ctx, verifiedKey{}, s), req)
	}
}

// StreamServerInterceptor returns a stream server interceptor that does
// what UnaryServerInterceptor does, from the method name and metadata
// only, before the handler runs. The digest of the first request message
// is checked then too when WithFirstMessageBytes reports the message's
// bytes (the gateway's proxy path); otherwise the handler's first RecvMsg
// checks it, against the message's deterministic protobuf encoding (or
// its Bytes() for raw frames such as the gateway's proxy.Frame), and fails
// with codes.Unauthenticated "invalid request signature" on a mismatch, as
// does every later RecvMsg. A stream that ends before any message is
// checked as an empty message. The nonce is used up before the handler
// runs. It is safe for concurrent use.
func (v *Verifier) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		if !v.o.requiredGRPC(ctx) {
			return handler(srv, ss)
		}
		s, digest, why := v.checkGRPC(ctx, info.FullMethod)
		b, early := v.firstBytes(ctx)
		if why == "" && early {
			why = checkDigest(digest, b)
		}
		if why == "" {
			why = v.useNonce(ctx, s)
		}
		if why != "" {
			return v.refuse(ctx, info.FullMethod, why)
		}
		w := &stream{ServerStream: ss, ctx: context.WithValue(ctx, verifiedKey{}, s)}
		if !early {
			w.v, w.digest, w.method = v, digest, info.FullMethod
		}
		return handler(srv, w)
	}
}

func (v *Verifier) firstBytes(ctx context.Context) ([]byte, bool) {
	if v.o.firstMessage == nil {
		return nil, false
	}
	return v.o.firstMessage(ctx)
}

// checkGRPC verifies the signature metadata of a call and returns the
// verified signature and the x-content-digest value to check.
func (v *Verifier) checkGRPC(ctx context.Context, fullMethod string) (*Verified, string, string) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, k := range []string{MetadataSignatureInput, MetadataSignature, MetadataContentDigest} {
		if n := len(md.Get(k)); n > 1 {
			return nil, "", fmt.Sprintf("%d values of %s", n, k)
		}
	}
	s, why := v.check(ctx, request{
		sigInput: first(md.Get(MetadataSignatureInput)),
		sig:      first(md.Get(MetadataSignature)),
		resolve:  grpcResolver(md, fullMethod),
		required: grpcRequired,
	})
	return s, first(md.Get(MetadataContentDigest)), why
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// grpcResolver resolves the components of the gRPC profile: @path (the
// full method), @authority and text metadata keys.
func grpcResolver(md metadata.MD, fullMethod string) httpsig.Resolver {
	return func(name string) (string, error) {
		switch {
		case name == "@path":
			return fullMethod, nil
		case name == "@authority":
			a := md.Get(":authority")
			if len(a) != 1 || a[0] == "" {
				return "", httpsig.ErrMissingComponent
			}
			return httpsig.Authority(a[0]), nil
		case strings.HasPrefix(name, "@"):
			return "", fmt.Errorf("%w: %s is not part of the gRPC profile", httpsig.ErrMissingComponent, name)
		case strings.HasSuffix(name, "-bin"):
			return "", fmt.Errorf("%w: binary metadata cannot be covered", httpsig.ErrMissingComponent)
		}
		v, ok := httpsig.FieldValue(md.Get(name))
		if !ok {
			return "", httpsig.ErrMissingComponent
		}
		return v, nil
	}
}

// messageBytes returns what the digest of a message covers.
func messageBytes(m any) ([]byte, string) {
	if v1, ok := m.(protoadapt.MessageV1); ok {
		m = protoadapt.MessageV2Of(v1)
	}
	switch msg := m.(type) {
	case proto.Message:
		b, err := deterministic.Marshal(msg)
		if err != nil {
			return nil, "encode request message: " + err.Error()
		}
		return b, ""
	case interface{ Bytes() []byte }:
		return msg.Bytes(), ""
	}
	return nil, fmt.Sprintf("request message of type %T has no digestible encoding", m)
}

func checkDigest(field string, b []byte) string {
	if err := httpsig.VerifyContentDigest(field, b); err != nil {
		return MetadataContentDigest + ": " + err.Error()
	}
	return ""
}

// stream carries the verified signature in its context and, when the
// digest could not be checked before the handler, checks it on the first
// RecvMsg. grpc-go never calls RecvMsg concurrently, so the fields need no
// lock.
type stream struct {
	grpc.ServerStream
	ctx context.Context

	v      *Verifier // non-nil while the digest is still to be checked
	digest string
	method string
	failed error
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) RecvMsg(m any) error {
	if s.failed != nil {
		return s.failed
	}
	if s.v == nil {
		return s.ServerStream.RecvMsg(m)
	}
	v := s.v
	s.v = nil
	err := s.ServerStream.RecvMsg(m)
	var b []byte
	why := ""
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		s.failed = err // the first message was never checked: nothing after it is read
		return err
	default:
		b, why = messageBytes(m)
	}
	if why == "" {
		why = checkDigest(s.digest, b)
	}
	if why != "" {
		s.failed = v.refuse(s.ctx, s.method, why)
		return s.failed
	}
	return err
}
