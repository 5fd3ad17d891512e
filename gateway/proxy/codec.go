package proxy

import (
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto" // registers grpc-go's proto codec, looked up below
	"google.golang.org/grpc/mem"
)

// protoCodec is grpc-go's own proto codec (registered by the import above,
// whose init runs first), captured once so that registering Codec globally
// under "proto" can never make Codec call itself.
var protoCodec = encoding.GetCodecV2(protoenc.Name)

// Codec is a grpc-go encoding.CodecV2 that passes *Frame values through as
// raw bytes and encodes every other value as protobuf.
//
// Install it on the gateway server with grpc.ForceServerCodecV2(Codec{});
// Handler sets it on the backend side with grpc.ForceCodecV2. Its Name is
// "proto", so the wire content-type stays application/grpc(+proto) and
// ordinary protobuf services (health, reflection) registered on the same
// server keep working. It never re-encodes a Frame: the received buffers are
// the buffers sent. Codec has no state and is safe for concurrent use.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Marshal returns the bytes of a *Frame as they are, taking one extra
// reference on its buffers for grpc-go, which frees it after writing; the
// Frame keeps its own. Any other value must be a proto.Message (v1 or v2 API)
// and is marshalled as protobuf.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*Frame); ok {
		f.data.Ref()
		return f.data, nil
	}
	return protoCodec.Marshal(v)
}

// Unmarshal stores data in a *Frame without copying, by taking a reference
// on the buffers grpc-go received (grpc-go drops its own reference when
// Unmarshal returns). Any other value must be a proto.Message and is parsed
// as protobuf.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*Frame); ok {
		f.Reset()
		data.Ref()
		// grpc-go never writes to data's backing array after this call, so
		// the Frame may keep the slice itself rather than a copy.
		f.data = data
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

// Name returns "proto", the content-subtype Codec stands in for.
func (Codec) Name() string { return protoenc.Name }

// Frame is one gRPC message in wire form (after decompression): the bytes
// between the length prefix of one message and the next. Handler moves
// Frames between client and backend; a stream interceptor that needs a
// request field can read the first Frame's Bytes and decode it with the
// method's Go type.
//
// A Frame received through Codec refers to grpc-go's pooled buffers. Those
// return to the pool when the Frame is Reset or receives the next message, so
// byte slices obtained from it must not be kept past that. A Frame that is
// dropped without Reset is reclaimed by the garbage collector instead. A
// Frame is not safe for concurrent use; its zero value is an empty message.
type Frame struct {
	data mem.BufferSlice
}

// NewFrame returns a Frame holding b without copying it. b must not be
// modified while the Frame, or a message sent from it, is in use.
func NewFrame(b []byte) *Frame {
	f := &Frame{}
	if len(b) > 0 {
		f.data = mem.BufferSlice{mem.SliceBuffer(b)}
	}
	return f
}

// Len returns the message size in bytes.
func (f *Frame) Len() int { return f.data.Len() }

// Bytes returns the message bytes as one contiguous, read-only slice. A
// message that grpc-go received in several buffers is joined into one buffer
// the first time (one copy); after that, and for single-buffer messages, no
// copy is made. The slice is valid until the Frame is Reset or reused.
func (f *Frame) Bytes() []byte {
	switch len(f.data) {
	case 0:
		return nil
	case 1:
		return f.data[0].ReadOnlyData()
	}
	joined := f.data.MaterializeToBuffer(mem.DefaultBufferPool())
	f.data.Free()
	f.data = mem.BufferSlice{joined}
	return joined.ReadOnlyData()
}

// Reset empties the Frame and releases its reference on the buffers it
// held, which grpc-go may then reuse.
func (f *Frame) Reset() {
	f.data.Free()
	f.data = nil
}
