package sign

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// Metadata keys of the gRPC profile (the same as package
// interceptors/signature's, which this package does not import).
const (
	keySignatureInput = "x-signature-input"
	keySignature      = "x-signature"
	keyContentDigest  = "x-content-digest"
)

// UnaryClientInterceptor returns a grpc-go client interceptor that signs
// every unary call with s: it digests the request's deterministic protobuf
// encoding, adds x-content-digest, x-signature-input and x-signature to
// the outgoing metadata (replacing earlier values) and sends the request
// with a codec that encodes it the same way. It is safe for concurrent use.
func UnaryClientInterceptor(s *Signer) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		b, err := marshal(req)
		if err != nil {
			return err
		}
		ctx, err = s.outgoing(ctx, method, s.authority(cc), b)
		if err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, append(opts[:len(opts):len(opts)], grpc.ForceCodecV2(codec{}))...)
	}
}

// StreamClientInterceptor returns a grpc-go client interceptor that signs
// every streaming call with s. The signature covers the first message the
// client sends, so the stream is opened when that message is sent; a
// stream whose client first receives, reads headers or closes its sending
// side is opened then, signed over the empty message (a server-first bidi
// stream therefore can only send an empty first message). Errors opening
// the stream are returned by that first operation. It is safe for
// concurrent use.
func StreamClientInterceptor(s *Signer) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		authority := s.authority(cc)
		opts = append(opts[:len(opts):len(opts)], grpc.ForceCodecV2(codec{}))
		return &lazyStream{ctx: ctx, open: func(first []byte) (grpc.ClientStream, error) {
			sctx, err := s.outgoing(ctx, method, authority, first)
			if err != nil {
				return nil, err
			}
			return streamer(sctx, desc, cc, method, opts...)
		}}, nil
	}
}

// outgoing returns ctx with the signature metadata of a call.
func (s *Signer) outgoing(ctx context.Context, method, authority string, msg []byte) (context.Context, error) {
	digest, err := httpsig.ContentDigest(s.o.digest, msg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(keyContentDigest, digest)
	md.Delete(keySignatureInput)
	md.Delete(keySignature)
	components := []string{"@path", "@authority", keyContentDigest}
	for _, h := range s.o.headers {
		if len(md.Get(h)) > 0 && !slices.Contains(components, h) {
			components = append(components, h)
		}
	}
	input, sig, err := s.sign(components, func(name string) (string, error) {
		switch name {
		case "@path":
			return method, nil
		case "@authority":
			return httpsig.Authority(authority), nil
		}
		v, ok := httpsig.FieldValue(md.Get(name))
		if !ok {
			return "", httpsig.ErrMissingComponent
		}
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	md.Set(keySignatureInput, input)
	md.Set(keySignature, sig)
	return metadata.NewOutgoingContext(ctx, md), nil
}

// authority is the :authority grpc-go sends on cc, unless WithAuthority.
func (s *Signer) authority(cc *grpc.ClientConn) string {
	if s.o.authority != "" {
		return s.o.authority
	}
	u, err := url.Parse(cc.CanonicalTarget())
	if err != nil {
		return cc.Target()
	}
	if u.Scheme == "unix" || u.Scheme == "unix-abstract" {
		return "localhost"
	}
	ep := u.Path
	if ep == "" {
		ep = u.Opaque
	}
	ep = strings.TrimPrefix(ep, "/")
	if strings.HasPrefix(ep, ":") {
		return "localhost" + ep
	}
	return ep
}

func messageV2(v any) (proto.Message, error) {
	switch m := v.(type) {
	case proto.Message:
		return m, nil
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m), nil
	}
	return nil, fmt.Errorf("sign: message of type %T is not a protobuf message", v)
}

var deterministic = proto.MarshalOptions{Deterministic: true}

func marshal(v any) ([]byte, error) {
	m, err := messageV2(v)
	if err != nil {
		return nil, err
	}
	return deterministic.Marshal(m)
}

// codec is grpc-go's proto codec with deterministic encoding: the bytes
// sent are the bytes the signature's digest covers.
type codec struct{}

var _ encoding.CodecV2 = codec{}

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, err := messageV2(v)
	if err != nil {
		return err
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

func (codec) Name() string { return "proto" }

// lazyStream opens the real stream on its first use, signed over the
// first message when that use is SendMsg. grpc-go allows one goroutine
// sending and one receiving at once, so opening is locked.
type lazyStream struct {
	ctx  context.Context
	open func(first []byte) (grpc.ClientStream, error)

	mu  sync.Mutex
	cs  grpc.ClientStream
	err error
}

func (l *lazyStream) stream(first []byte) (grpc.ClientStream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cs == nil && l.err == nil {
		l.cs, l.err = l.open(first)
	}
	return l.cs, l.err
}

func (l *lazyStream) opened() grpc.ClientStream {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cs
}

func (l *lazyStream) SendMsg(m any) error {
	cs := l.opened()
	if cs == nil {
		b, err := marshal(m)
		if err != nil {
			return err
		}
		if cs, err = l.stream(b); err != nil {
			return err
		}
	}
	return cs.SendMsg(m)
}

func (l *lazyStream) RecvMsg(m any) error {
	cs, err := l.stream(nil)
	if err != nil {
		return err
	}
	return cs.RecvMsg(m)
}

func (l *lazyStream) Header() (metadata.MD, error) {
	cs, err := l.stream(nil)
	if err != nil {
		return nil, err
	}
	return cs.Header()
}

func (l *lazyStream) Trailer() metadata.MD {
	if cs := l.opened(); cs != nil {
		return cs.Trailer()
	}
	return nil
}

func (l *lazyStream) CloseSend() error {
	cs, err := l.stream(nil)
	if err != nil {
		return err
	}
	return cs.CloseSend()
}

func (l *lazyStream) Context() context.Context {
	if cs := l.opened(); cs != nil {
		return cs.Context()
	}
	return l.ctx
}
