package proxy

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
)

// ErrClosed is returned by Pool.Conn after Pool.Close. Through a Director it
// reaches clients as codes.Unavailable.
var ErrClosed = errors.New("proxy: pool closed")

// Target identifies one backend connection. Two Targets that compare equal
// share one connection.
type Target struct {
	// Address is a grpc.NewClient target: "host:port" (resolved through
	// DNS) or a URI such as "dns:///orders.internal:8443" or
	// "unix:///run/orders.sock".
	Address string
	// ServerName is the identity the backend's TLS certificate must carry
	// (and the SNI sent). Empty means the host part of Address.
	ServerName string
}

// Pool dials each backend Target once and hands out the same
// *grpc.ClientConn for every later call. grpc-go multiplexes calls over the
// connection and reconnects it with backoff by itself. Connections are
// created lazily (grpc.NewClient does no I/O); the first call starts the
// dial. Calls use grpc-go's fail-fast default: while a backend is down they
// fail at once with codes.Unavailable instead of waiting for it.
//
// A Pool is safe for concurrent use. Close it to release the connections.
type Pool struct {
	opts poolOptions

	mu     sync.RWMutex
	conns  map[Target]*grpc.ClientConn
	closed bool
}

// NewPool returns an empty Pool. See the PoolOption functions for the
// defaults; without WithTransportCredentials, backends are reached over
// verified TLS.
func NewPool(opts ...PoolOption) *Pool {
	o := defaultPoolOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Pool{opts: o, conns: make(map[Target]*grpc.ClientConn)}
}

// Conn returns the connection for t, creating it on first use. It fails with
// ErrClosed after Close, and with a "proxy: "-prefixed error when t has no
// Address, its credentials cannot be built or grpc.NewClient rejects it; a
// failed Target is retried on the next Conn.
func (p *Pool) Conn(t Target) (*grpc.ClientConn, error) {
	// Fast path: a read lock and one map probe.
	p.mu.RLock()
	cc, closed := p.conns[t], p.closed
	p.mu.RUnlock()
	if cc != nil {
		return cc, nil
	}
	if closed {
		return nil, ErrClosed
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if cc := p.conns[t]; cc != nil { // another caller won the race
		return cc, nil
	}
	cc, err := p.dial(t)
	if err != nil {
		return nil, err
	}
	p.conns[t] = cc
	return cc, nil
}

// dial creates the connection for t. grpc.NewClient does no network I/O,
// so holding the lock across it does not stall other callers on a slow
// backend.
func (p *Pool) dial(t Target) (*grpc.ClientConn, error) {
	if t.Address == "" {
		return nil, errors.New("proxy: target has no address")
	}
	creds, err := p.opts.credentials(t)
	if err != nil {
		return nil, fmt.Errorf("proxy: credentials for %q: %w", t.Address, err)
	}
	if creds == nil {
		return nil, fmt.Errorf("proxy: credentials for %q: none returned", t.Address)
	}
	var callOpts []grpc.CallOption
	if p.opts.maxRecv > 0 {
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(p.opts.maxRecv))
	}
	if p.opts.maxSend > 0 {
		callOpts = append(callOpts, grpc.MaxCallSendMsgSize(p.opts.maxSend))
	}
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if len(callOpts) > 0 {
		dialOpts = append(dialOpts, grpc.WithDefaultCallOptions(callOpts...))
	}
	dialOpts = append(dialOpts, p.opts.dialOptions...)
	cc, err := grpc.NewClient(t.Address, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("proxy: dial %q: %w", t.Address, err)
	}
	return cc, nil
}

// Close closes every connection, failing the calls still running on them
// with codes.Canceled, and makes later Conn calls fail with ErrClosed. It
// returns the connections' close errors, joined. Calling it again does
// nothing.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	var errs []error
	for t, cc := range conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("proxy: close %q: %w", t.Address, err))
		}
	}
	return errors.Join(errs...)
}
