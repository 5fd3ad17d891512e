package gateway

import (
	"crypto/tls"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/portcullis/portcullis/gateway/tlsconfig"
)

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

// connectParams bounds each connection attempt to a backend and retries
// quickly, so a backend that comes back is used again soon.
func connectParams(timeout time.Duration) grpc.ConnectParams {
	b := backoff.DefaultConfig
	b.MaxDelay = 5 * time.Second
	return grpc.ConnectParams{Backoff: b, MinConnectTimeout: timeout}
}

// tlsListener serves TLS with a reloading configuration.
func tlsListener(l net.Listener, rl *tlsconfig.Reloader) net.Listener {
	return tls.NewListener(l, rl.TLSConfig())
}
