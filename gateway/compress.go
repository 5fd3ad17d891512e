package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/proxy"
)

// Compressed messages. The gateway accepts gzip-compressed messages (the
// encoding grpc-go ships) and forwards them transparently: the gRPC server
// decompresses requests with requestGzip and the proxy sends them on with
// the client's encoding, so backends receive what the client sent. Two
// bounds hold for a compression bomb:
//
//   - size: the per-route and per-method limits apply to the decompressed
//     message, and inflating stops one byte past the server's receive limit
//     (grpc-go then refuses the message: ResourceExhausted "… larger than
//     max …");
//   - ratio: a request message that expands more than maxExpansion times
//     its compressed size, once past expansionFloor bytes, is refused with
//     ResourceExhausted "request message expands too far when
//     decompressed" before it is forwarded: inflating stops where it
//     crosses the ratio, and the stages that receive messages refuse it.
//
// Responses from backends are decompressed by grpc-go's registered gzip,
// bounded by the route's response limit only. The REST front refuses
// compressed bodies (415). The gateway's own services (health,
// reflection) cannot parse the marker message and answer Internal.
const (
	maxExpansion   = 512
	expansionFloor = 1 << 20
)

var errExpanded = status.Error(codes.ResourceExhausted, "request message expands too far when decompressed")

// requestGzip is the gRPC server's decompressor of gzip requests
// (grpc.RPCDecompressor, which grpc-go uses instead of the registered
// compressor for messages of that encoding). It inflates like grpc-go's
// own, and also checks the expansion ratio while inflating.
//
// A refusal cannot be an error: grpc-go turns a decompressor's error into
// Internal, which it writes itself. A message over the ratio decompresses
// instead to expandedMessage, which no client can send (it is told apart
// by its address, not its content) and which every stage that receives
// messages refuses with errExpanded (overExpanded). That costs nothing on
// uncompressed calls, unlike a stats handler seeing both sizes, which made
// grpc-go build about twenty stats events for every call.
type requestGzip struct {
	max     int       // the server's receive limit
	readers sync.Pool // *gzip.Reader
}

// expandedMessage is what requestGzip returns for a message over the ratio.
var expandedMessage = make([]byte, 1)

func (*requestGzip) Type() string { return "gzip" }

// Do inflates one message: at most max+1 bytes (grpc-go refuses a message
// over max), or expandedMessage as soon as the output crosses the ratio. r
// is grpc-go's reader of the compressed message, which knows its length.
func (d *requestGzip) Do(r io.Reader) ([]byte, error) {
	var compressed int
	if rr, ok := r.(interface{ Remaining() int }); ok {
		compressed = rr.Remaining()
	} else { // not grpc-go's: read the compressed message to learn its length
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		compressed, r = len(b), bytes.NewReader(b)
	}
	z, _ := d.readers.Get().(*gzip.Reader)
	var err error
	if z == nil {
		z, err = gzip.NewReader(r)
	} else {
		err = z.Reset(r)
	}
	if err != nil {
		return nil, err
	}
	defer d.readers.Put(z)
	limit := d.max + 1
	out := make([]byte, 0, min(limit, max(512, compressed)))
	for {
		if len(out) == cap(out) {
			// Double: the copies add up to at most the output's size.
			out = slices.Grow(out, min(len(out), limit-len(out)))
		}
		n, err := z.Read(out[len(out):min(cap(out), limit)])
		out = out[:len(out)+n]
		if len(out) > expansionFloor && len(out) > maxExpansion*compressed {
			// grpc-go releases the compressed message's buffers only when
			// decompression fails or the output is over the limit.
			if c, ok := r.(io.Closer); ok {
				_ = c.Close()
			}
			return expandedMessage, nil
		}
		switch {
		case len(out) == limit:
			return out, nil // over max: grpc-go refuses it
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		}
	}
}

// overExpanded reports whether f is the message requestGzip returns for one
// over the expansion ratio.
func overExpanded(f *proxy.Frame) bool {
	return f.Len() == 1 && &f.Bytes()[0] == &expandedMessage[0]
}
