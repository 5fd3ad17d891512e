// Package inproc connects a REST front to a gRPC server's chain inside the
// process, so REST calls run through exactly the same interceptor chain as
// gRPC calls, without a socket. Two ways:
//
//   - Direct, a grpc.ClientConnInterface that runs the server's stream
//     chain and handler on the calling goroutine (no HTTP/2 at all); the
//     gateway's REST front uses it;
//   - Listener, an in-memory listener the server serves and Dial
//     connects to, a full HTTP/2 connection; the admin API's REST front
//     uses it, for a grpc.Server with registered services.
//
// Either way the call's peer carries AuthInfo, the only proof a stage of
// the chain accepts that the call's internal metadata keys
// (policy.InternalPrefix) were set by the gateway and not by a client. A
// server given Credentials performs the normal TLS (or plaintext)
// handshake for network connections and recognises connections accepted
// from a Listener as internal; network connections never get AuthInfo.
package inproc

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"
)

// bufferSize is the in-memory pipe buffer per connection direction.
const bufferSize = 1 << 20

// Listener is an in-memory net.Listener. Safe for concurrent use.
type Listener struct {
	bl *bufconn.Listener
}

// Listen returns a new in-memory listener.
func Listen() *Listener { return &Listener{bl: bufconn.Listen(bufferSize)} }

// Accept returns the next in-memory connection, marked as internal.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.bl.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// Close stops accepting; established connections keep working.
func (l *Listener) Close() error { return l.bl.Close() }

// Addr returns the listener's address ("bufconn").
func (l *Listener) Addr() net.Addr { return l.bl.Addr() }

// Dial returns a client connection to the server behind the listener. The
// connection is plaintext: it never leaves the process.
func (l *Listener) Dial(opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.bl.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	return grpc.NewClient("passthrough:///portcullis-inproc", opts...)
}

// conn marks a connection accepted from a Listener.
type conn struct{ net.Conn }

// AuthInfo identifies an internal (REST front) connection.
type AuthInfo struct{ credentials.CommonAuthInfo }

// AuthType returns "portcullis-inproc".
func (AuthInfo) AuthType() string { return "portcullis-inproc" }

// IsInternal reports whether the call in ctx arrived over an in-memory
// connection from the gateway's own REST front.
func IsInternal(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	_, ok = p.AuthInfo.(AuthInfo)
	return ok
}

// Credentials wraps the server's network credentials (TLS, or insecure for
// loopback plaintext) and passes internal connections through unchanged.
type Credentials struct {
	credentials.TransportCredentials
}

// NewCredentials wraps network credentials; nil means plaintext.
func NewCredentials(network credentials.TransportCredentials) *Credentials {
	if network == nil {
		network = insecure.NewCredentials()
	}
	return &Credentials{TransportCredentials: network}
}

// ServerHandshake returns internal connections as they are, with AuthInfo,
// and hands every other connection to the network credentials.
func (c *Credentials) ServerHandshake(rawConn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if ic, ok := rawConn.(*conn); ok {
		return ic, AuthInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return c.TransportCredentials.ServerHandshake(rawConn)
}

// Clone returns a copy.
func (c *Credentials) Clone() credentials.TransportCredentials {
	return &Credentials{TransportCredentials: c.TransportCredentials.Clone()}
}
