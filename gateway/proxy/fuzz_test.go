package proxy_test

import (
	"bytes"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/gateway/proxy"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// fuzzPool hands out buffers big enough to be pooled (so that they are
// reference-counted) and counts them in and out.
type fuzzPool struct{ gets, puts atomic.Int64 }

func (p *fuzzPool) Get(n int) *[]byte {
	p.gets.Add(1)
	b := make([]byte, n, max(n, 4096))
	return &b
}

func (p *fuzzPool) Put(*[]byte) { p.puts.Add(1) }

// FuzzCodec passes arbitrary bytes, received in one to three pooled
// buffers, through Codec as a proxy.Frame and as a protobuf message.
// Invariants: no panic; a Frame holds exactly the bytes received, whatever
// their split, and Marshal sends exactly those bytes; once the Frame is
// Reset and grpc-go's references are dropped, every pooled buffer is back
// in the pool (no leak, no double free); a message that Unmarshal accepts
// survives Marshal and Unmarshal unchanged. Seeds are in
// testdata/fuzz/FuzzCodec.
func FuzzCodec(f *testing.F) {
	seed, _ := proto.Marshal(&bankv1.CreateTransferRequest{Account: "accounts/a1", Beneficiary: &bankv1.Beneficiary{}, AmountCents: 1000, Currency: "EUR", Memo: "rent"})
	f.Add(seed, uint16(3))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, uint16(0x0102))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		pool := &fuzzPool{}
		// Cut data at up to two points chosen by split.
		cuts := []int{0, int(split&0xff) % (len(data) + 1), int(split>>8) % (len(data) + 1), len(data)}
		if cuts[1] > cuts[2] {
			cuts[1], cuts[2] = cuts[2], cuts[1]
		}
		var in mem.BufferSlice
		for i := 0; i+1 < len(cuts); i++ {
			if piece := data[cuts[i]:cuts[i+1]]; len(piece) > 0 {
				b := pool.Get(len(piece))
				copy(*b, piece)
				in = append(in, mem.NewBuffer(b, pool))
			}
		}
		var fr proxy.Frame
		if err := (proxy.Codec{}).Unmarshal(in, &fr); err != nil {
			t.Fatalf("Unmarshal(%d bytes in %d buffers, *Frame) = %v, want nil", len(data), len(in), err)
		}
		in.Free() // grpc-go drops its reference when Unmarshal returns
		if fr.Len() != len(data) || !bytes.Equal(fr.Bytes(), data) {
			t.Fatalf("Frame after Unmarshal(%x) = %d bytes %x, want the input", data, fr.Len(), fr.Bytes())
		}
		out, err := (proxy.Codec{}).Marshal(&fr)
		if err != nil || !bytes.Equal(out.Materialize(), data) {
			t.Fatalf("Marshal(Frame of %x) = %x, %v, want the input", data, out.Materialize(), err)
		}
		out.Free() // grpc-go frees what it sent
		fr.Reset()
		if g, p := pool.gets.Load(), pool.puts.Load(); g != p {
			t.Fatalf("pooled buffers: %d taken, %d returned after Reset, want all returned", g, p)
		}

		var m bankv1.CreateTransferRequest
		if err := (proxy.Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &m); err != nil {
			return
		}
		enc, err := (proxy.Codec{}).Marshal(&m)
		if err != nil {
			t.Fatalf("Marshal(Unmarshal(%x)) = %v, want nil", data, err)
		}
		var again bankv1.CreateTransferRequest
		if err := (proxy.Codec{}).Unmarshal(enc, &again); err != nil || !proto.Equal(&m, &again) {
			t.Fatalf("Unmarshal(Marshal(%v)) = %v, %v, want the same message", &m, &again, err)
		}
		enc.Free()
	})
}
