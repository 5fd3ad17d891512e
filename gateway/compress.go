package gateway

// Compressed messages. The gateway accepts gzip-compressed messages (the
// encoding grpc-go ships) and forwards them transparently: grpc-go
// decompresses on receive and the proxy sends on with the client's
// encoding, so backends receive what the client sent. A compression bomb is
// bounded by the size limit: grpc-go inflates at most one byte more than
// the server's receive limit before it refuses the message with
// ResourceExhausted, and the per-route and per-method limits apply to the
// decompressed size. The REST front refuses compressed bodies (415).
import _ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
