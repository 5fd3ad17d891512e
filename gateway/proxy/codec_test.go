package proxy_test

import (
	"bytes"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/gateway/proxy"
)

// countingPool counts buffers returned to it.
type countingPool struct{ puts atomic.Int32 }

func (p *countingPool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (p *countingPool) Put(*[]byte)       { p.puts.Add(1) }

// pooled returns a pool-owned buffer holding b (large enough to be pooled).
func pooled(p mem.BufferPool, b []byte) mem.Buffer {
	buf := p.Get(len(b))
	copy(*buf, b)
	return mem.NewBuffer(buf, p)
}

func TestCodecFrameOwnership(t *testing.T) {
	var pool countingPool
	msg := bytes.Repeat([]byte("x"), 4<<10)
	received := mem.BufferSlice{pooled(&pool, msg)}

	var f proxy.Frame
	if err := (proxy.Codec{}).Unmarshal(received, &f); err != nil {
		t.Fatalf("Unmarshal(Frame) = %v", err)
	}
	received.Free() // what grpc-go does after Unmarshal
	if got := pool.puts.Load(); got != 0 {
		t.Fatalf("buffers returned after grpc-go's free = %d, want 0 (the Frame holds one)", got)
	}
	if !bytes.Equal(f.Bytes(), msg) {
		t.Fatalf("Bytes() differs from the received message")
	}

	sent, err := (proxy.Codec{}).Marshal(&f)
	if err != nil {
		t.Fatalf("Marshal(Frame) = %v", err)
	}
	// Zero copy: the bytes sent are the very bytes received.
	if len(sent) != 1 || &sent[0].ReadOnlyData()[0] != &f.Bytes()[0] {
		t.Fatalf("Marshal(Frame) = %d buffers, want the received buffer itself", len(sent))
	}
	sent.Free() // what grpc-go does once written
	if got := pool.puts.Load(); got != 0 {
		t.Fatalf("buffers returned after the send = %d, want 0", got)
	}
	f.Reset()
	if got := pool.puts.Load(); got != 1 {
		t.Fatalf("buffers returned after Reset = %d, want 1", got)
	}
	if f.Len() != 0 || f.Bytes() != nil {
		t.Errorf("Reset Frame = %d bytes, want empty", f.Len())
	}
}

func TestCodecFrameShapes(t *testing.T) {
	var pool countingPool
	tests := []struct {
		name string
		data func() mem.BufferSlice
		want []byte
	}{
		{"empty", func() mem.BufferSlice { return nil }, nil},
		{"small", func() mem.BufferSlice { return mem.BufferSlice{mem.SliceBuffer("abc")} }, []byte("abc")},
		{"several buffers", func() mem.BufferSlice {
			return mem.BufferSlice{pooled(&pool, bytes.Repeat([]byte("a"), 2048)), mem.SliceBuffer("b"), pooled(&pool, bytes.Repeat([]byte("c"), 2048))}
		}, append(append(bytes.Repeat([]byte("a"), 2048), 'b'), bytes.Repeat([]byte("c"), 2048)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data()
			var f proxy.Frame
			if err := (proxy.Codec{}).Unmarshal(data, &f); err != nil {
				t.Fatalf("Unmarshal() = %v", err)
			}
			data.Free()
			if f.Len() != len(tt.want) || !bytes.Equal(f.Bytes(), tt.want) {
				t.Errorf("Frame = %d bytes %q, want %d", f.Len(), f.Bytes(), len(tt.want))
			}
			out, err := (proxy.Codec{}).Marshal(&f)
			if err != nil || !bytes.Equal(out.Materialize(), tt.want) {
				t.Errorf("Marshal() = %d bytes, %v, want %d", out.Len(), err, len(tt.want))
			}
			out.Free()
			f.Reset()
		})
	}
	if got := pool.puts.Load(); got != 2 {
		t.Errorf("pooled buffers returned = %d, want 2", got)
	}
}

func TestCodecNewFrame(t *testing.T) {
	b := []byte("raw bytes")
	f := proxy.NewFrame(b)
	out, err := (proxy.Codec{}).Marshal(f)
	if err != nil || !bytes.Equal(out.Materialize(), b) || f.Len() != len(b) {
		t.Errorf("Marshal(NewFrame(%q)) = %q, %v", b, out.Materialize(), err)
	}
	if got := proxy.NewFrame(nil).Len(); got != 0 {
		t.Errorf("NewFrame(nil).Len() = %d, want 0", got)
	}
}

func TestCodecProtoFallback(t *testing.T) {
	c := proxy.Codec{}
	if got := c.Name(); got != "proto" {
		t.Errorf("Name() = %q, want proto", got)
	}
	in := &testpb.SimpleRequest{ResponseSize: 42, Payload: &testpb.Payload{Body: []byte("body")}}
	data, err := c.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal(proto) = %v", err)
	}
	want, _ := proto.Marshal(in)
	if !bytes.Equal(data.Materialize(), want) {
		t.Errorf("Marshal(proto) = %x, want %x", data.Materialize(), want)
	}
	out := &testpb.SimpleRequest{}
	if err := c.Unmarshal(data, out); err != nil || !proto.Equal(in, out) {
		t.Errorf("Unmarshal(proto) = %v, %v, want %v", out, err, in)
	}
	data.Free()

	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("Marshal(string) = nil error, want an error")
	}
	if err := c.Unmarshal(nil, new(int)); err == nil {
		t.Error("Unmarshal(*int) = nil error, want an error")
	}
}

// jsonCodec is a second wire format, to show that Handler forwards bytes
// of any content-subtype untouched.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return protojson.Marshal(v.(proto.Message)) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return protojson.Unmarshal(b, v.(proto.Message)) }
func (jsonCodec) Name() string                    { return "json" }

func init() { encoding.RegisterCodec(jsonCodec{}) } // for the backend and the client

func TestHandlerContentSubtype(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, err := e.client.UnaryCall(testContext(t), &testpb.SimpleRequest{Payload: payload(3)}, grpc.CallContentSubtype("json"))
	if err != nil || len(resp.GetPayload().GetBody()) != 3 {
		t.Fatalf("UnaryCall(json) = %v, %v, want a 3-byte echo", resp, err)
	}
	if got := e.backend.lastCall(t).md.Get("content-type"); len(got) != 1 || got[0] != "application/grpc+json" {
		t.Errorf("backend content-type = %q, want application/grpc+json", got)
	}
}
