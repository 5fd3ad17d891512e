package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/rest"
	"github.com/portcullis/portcullis/gateway/tlsconfig"
	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/clientip"
	"github.com/portcullis/portcullis/interceptors/metrics"
	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

// Gateway is one running Portcullis gateway. Build it with New, then call
// Start (or Run). Safe for concurrent use.
type Gateway struct {
	cfg  *config.Config
	opts options
	log  *slog.Logger
	// clientIP gives every stage the same client address (trusted_proxies).
	clientIP *clientip.Resolver

	registry       *policy.Registry
	extFiles       []*protoregistry.Files // descriptor sets, for reflection
	routes         map[string]*Route
	pool           *proxy.Pool
	metrics        *metrics.Metrics
	prom           *prometheus.Registry
	id             *identity
	authn          *authn.Authenticator // nil without an identity block
	sig            *signing             // nil without an identity block
	signer         *assertion.Signer    // nil without an assertion block
	rlMetrics      *ratelimit.Metrics
	audit          *audit.Logger // nil without an audit block
	redis          *redis.Client // nil unless rate limits live in Redis
	secrets        *secretSet    // resolved secret references; closed by Shutdown
	upstream       *prometheus.CounterVec
	shadowDisagree *prometheus.CounterVec
	bundleEvents   *prometheus.CounterVec
	unary          []grpc.UnaryServerInterceptor
	stream         []grpc.StreamServerInterceptor

	adminGRPC *grpc.Server
	adminMem  *inproc.Listener
	adminConn *grpc.ClientConn
	adminREST http.Handler

	grpcServer *grpc.Server
	health     *health.Server
	// forward is the proxy handler (the gRPC server's unknown-service
	// handler) and streamChain its stages; the REST front runs both in
	// process through inproc.Direct.
	forward     grpc.StreamHandler
	streamChain grpc.StreamServerInterceptor
	httpServer  *http.Server
	admin       *http.Server
	grpcTLS     *tlsconfig.Reloader
	httpTLS     *tlsconfig.Reloader
	adminTLS    *tlsconfig.Reloader

	mu        sync.Mutex
	listeners map[string]net.Listener
	ready     atomic.Bool
	stopOnce  sync.Once
	done      chan struct{}
	serveErr  chan error
}

// New validates cfg against the compiled policy tables and builds the
// gateway without listening. Every configuration problem is reported here,
// before anything binds a port.
func New(cfg *config.Config, opts ...Option) (*Gateway, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	for _, s := range o.stages {
		if s.Unary == nil || s.Stream == nil {
			return nil, fmt.Errorf("gateway: stage %q needs unary and stream interceptors", s.Name)
		}
	}
	reg, extFiles, err := effectivePolicy(cfg, o.tables)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, opts: o, log: o.log, registry: reg, extFiles: extFiles, listeners: map[string]net.Listener{},
		done: make(chan struct{}), serveErr: make(chan error, 3)}
	if err := g.buildClientIP(); err != nil {
		return nil, err
	}
	if err := g.buildRoutes(); err != nil {
		return nil, err
	}
	if err := g.buildTLS(); err != nil {
		return nil, err
	}
	// Every secret reference is resolved here, before anything listens.
	if g.secrets, err = newSecretSet(cfg, g.log); err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built { // New failed: stop the refreshes
			g.secrets.close()
		}
	}()
	if a := cfg.Assertion; a != nil {
		s, err := assertion.New(assertion.Config{Issuer: a.Issuer, KeyFile: a.KeyFile, KeyPEM: g.secrets.bytes(keyAssertionKey), Lifetime: a.Lifetime})
		switch {
		case err != nil && a.Key != "":
			return nil, fmt.Errorf("gateway: %s (%s): %w", keyAssertionKey, a.Key, err)
		case err != nil:
			return nil, fmt.Errorf("gateway: assertion: %w", err)
		}
		g.signer = s
		g.watchAssertionKey()
	}
	if err := g.buildMetrics(); err != nil {
		return nil, err
	}
	stages, err := g.identityStages()
	if err != nil {
		return nil, err
	}
	if len(g.opts.stages) == 0 {
		if stages == nil { // no identity: only public methods pass
			stages = []Stage{{Name: "deny-protected", Unary: denyUnary, Stream: denyStream}}
		}
		rl, err := g.rateLimitStage()
		if err != nil {
			return nil, err
		}
		stages = append(stages, rl)
		if stages, err = g.withSignatureStage(stages); err != nil {
			return nil, err
		}
		if vs, ok, err := g.validationStage(); err != nil {
			return nil, err
		} else if ok {
			stages = append(stages, vs)
		}
		au, ok, err := g.auditStage()
		if err != nil {
			return nil, err
		}
		if ok {
			stages = append([]Stage{au}, stages...) // outermost: refused calls are recorded too
		}
		g.opts.stages = stages
	}
	g.unary, g.stream = g.chain()
	g.buildGRPC()
	if err := g.buildAdminAPI(g.unary, g.stream); err != nil {
		return nil, fmt.Errorf("gateway: admin API: %w", err)
	}
	if err := g.buildHTTP(); err != nil {
		return nil, err
	}
	g.buildAdmin()
	built = true
	return g, nil
}

// buildClientIP builds the client-address resolver every stage shares.
func (g *Gateway) buildClientIP() error {
	proxies := make([]netip.Prefix, 0, len(g.cfg.TrustedProxies))
	for i, p := range g.cfg.TrustedProxies {
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("gateway: trusted_proxies[%d]: %w", i, err)
		}
		proxies = append(proxies, pr)
	}
	header := clientip.XForwardedFor
	if g.cfg.ForwardedHeader == "forwarded" {
		header = clientip.Forwarded
	}
	// stripInternal guarantees that the REST front's keys are its own.
	g.clientIP = clientip.New(clientip.WithTrustInternalMetadata(true), clientip.WithTrustedProxies(proxies), clientip.WithHeader(header))
	return nil
}

func (g *Gateway) buildRoutes() error {
	creds := map[proxy.Target]credentials.TransportCredentials{}
	g.routes = map[string]*Route{}
	for i, r := range g.cfg.Routes {
		if len(g.registry.Service(r.Service)) == 0 {
			return fmt.Errorf("gateway: routes[%d].service: %q has no compiled policy table (known services: %v)", i, r.Service, g.knownServices())
		}
		t := proxy.Target{Address: r.Backend}
		if r.TLS != nil {
			t.ServerName = r.TLS.ServerName
			rl, err := tlsconfig.NewClient(r.TLS.Settings(), tlsconfig.WithNextProtos("h2"), tlsconfig.WithLogger(g.log))
			if err != nil {
				return fmt.Errorf("gateway: routes[%d].tls: %w", i, err)
			}
			creds[t] = credentials.NewTLS(rl.TLSConfig())
		}
		rt := &Route{Service: r.Service, Target: t, Timeout: r.Timeout,
			MaxRequestBytes: int(r.MaxRequestBytes), MaxResponseBytes: int(r.MaxResponseBytes), ForwardCredentials: r.ForwardCredentials}
		rt.opts = rt.callOptions()
		g.routes[r.Service] = rt
	}
	connectTimeout := config.DefaultConnectTimeout
	for _, r := range g.cfg.Routes {
		connectTimeout = max(connectTimeout, r.ConnectTimeout)
	}
	g.pool = proxy.NewPool(
		proxy.WithTransportCredentials(func(t proxy.Target) (credentials.TransportCredentials, error) {
			if c, ok := creds[t]; ok {
				return c, nil
			}
			return insecureCreds(), nil // plaintext routes: validated to be loopback only
		}),
		proxy.WithMaxCallRecvMsgSize(config.MaxMessageBytes),
		proxy.WithMaxCallSendMsgSize(config.MaxMessageBytes),
		proxy.WithDialOptions(grpc.WithConnectParams(connectParams(connectTimeout))),
	)
	return nil
}

func (g *Gateway) knownServices() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range g.registry.Methods() {
		if s, _ := policy.SplitMethod(m); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (g *Gateway) buildTLS() error {
	var err error
	l := g.cfg.Listeners
	if l.GRPC.TLS != nil {
		if g.grpcTLS, err = tlsconfig.NewServer(l.GRPC.TLS.Settings(), tlsconfig.WithNextProtos("h2"), tlsconfig.WithLogger(g.log)); err != nil {
			return fmt.Errorf("gateway: listeners.grpc.tls: %w", err)
		}
	}
	if l.HTTP != nil && l.HTTP.TLS != nil {
		if g.httpTLS, err = tlsconfig.NewServer(l.HTTP.TLS.Settings(), tlsconfig.WithNextProtos("h2", "http/1.1"), tlsconfig.WithLogger(g.log)); err != nil {
			return fmt.Errorf("gateway: listeners.http.tls: %w", err)
		}
	}
	if l.Admin != nil && l.Admin.TLS != nil {
		if g.adminTLS, err = tlsconfig.NewServer(l.Admin.TLS.Settings(), tlsconfig.WithNextProtos("h2", "http/1.1"), tlsconfig.WithLogger(g.log)); err != nil {
			return fmt.Errorf("gateway: listeners.admin.tls: %w", err)
		}
	}
	return nil
}

// streamWorkers is the number of goroutines that serve gRPC calls
// (grpc.NumStreamWorkers); calls beyond them get goroutines of their own.
const streamWorkers = 64

func (g *Gateway) buildGRPC() {
	var network credentials.TransportCredentials
	if g.grpcTLS != nil {
		network = credentials.NewTLS(g.grpcTLS.TLSConfig())
	}
	rt := &router{routes: g.routes, pool: g.pool}
	g.forward = g.countUpstream(proxy.Handler(rt, proxy.WithOutgoingMetadata(g.outgoingMetadata), proxy.WithResponseHeader(responseHeader),
		proxy.WithSingleRequest(singleRequest), proxy.WithIncomingMetadata(policy.Incoming), proxy.WithDefaultTimeout(rt.timeout)))
	g.streamChain = chainStreams(g.stream)
	g.grpcServer = grpc.NewServer(
		grpc.Creds(inproc.NewCredentials(network)),
		grpc.ForceServerCodecV2(proxy.Codec{}),
		grpc.UnknownServiceHandler(g.forward),
		grpc.ChainUnaryInterceptor(g.unary...),
		grpc.StreamInterceptor(g.streamChain),
		grpc.MaxRecvMsgSize(g.maxRequestBytes()),
		grpc.MaxSendMsgSize(config.MaxMessageBytes),
		grpc.MaxHeaderListSize(64<<10),
		grpc.InTapHandle(limitMetadata), // metadata entry and value limits, before a stream exists
		// Inflates gzip requests within the receive limit and the
		// expansion ratio (compress.go). Deprecated in grpc-go in favour of
		// registered compressors, which are process-wide (they would hold
		// backends' responses to the ratio too); supported throughout 1.x.
		grpc.RPCDecompressor(&requestGzip{max: g.maxRequestBytes()}), //nolint:staticcheck // see above
		grpc.MaxConcurrentStreams(1024),
		// Calls run on long-lived worker goroutines (a new goroutine only
		// when all are busy): a fresh goroutine's stack grew by copying,
		// several times per call, through the chain's depth, which cost
		// about a tenth of the gateway's CPU per call under load.
		grpc.NumStreamWorkers(streamWorkers),
		// Bounds the TLS handshake and the HTTP/2 preface of a new
		// connection (grpc-go's default is 120s): a client that connects and
		// stalls holds a socket and a goroutine for at most this long.
		grpc.ConnectionTimeout(10*time.Second),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute}),
	)
	g.health = health.NewServer()
	healthpb.RegisterHealthServer(g.grpcServer, g.health)
	g.registerReflection()
}

func (g *Gateway) buildHTTP() error {
	if g.cfg.Listeners.HTTP == nil {
		return nil
	}
	var services []policy.Service
	for _, t := range g.opts.tables {
		for _, s := range t.Services {
			if _, routed := g.routes[s.Name]; routed {
				services = append(services, s)
			}
		}
	}
	restOpts := []rest.Option{rest.WithMaxBodyBytes(int64(g.maxRequestBytes()))}
	if g.sig != nil {
		restOpts = append(restOpts, rest.WithMiddleware(g.sig.restMiddleware))
	}
	// REST calls run the gRPC server's own stream chain and proxy handler,
	// in process (inproc.Direct): the same stages, policy and status as a
	// gRPC call, without an in-memory HTTP/2 hop.
	direct := inproc.NewDirect(g.streamChain, g.forward, proxy.Codec{}, g.maxRequestBytes(), config.MaxMessageBytes)
	front, err := rest.New(context.Background(), direct, services, restOpts...)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	// routeAPI (httproute.go) sends clean paths other than /openapi.json
	// straight to front: a pattern added here must be added there too.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		if len(g.opts.openAPI) == 0 {
			http.NotFound(w, nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.opts.openAPI)
	})
	mux.Handle("/", front)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true) // h2c, only reachable on a loopback plaintext listener
	g.httpServer = &http.Server{
		Handler:           limitHeaders(routeAPI(mux, front)),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// Start binds every listener and starts serving. It returns once all
// listeners are bound (or the first bind error).
func (g *Gateway) Start() error {
	l := g.cfg.Listeners
	grpcLis, err := net.Listen("tcp", l.GRPC.Address)
	if err != nil {
		return fmt.Errorf("gateway: listeners.grpc: %w", err)
	}
	g.setListener("grpc", grpcLis)
	var httpLis, adminLis net.Listener
	if l.HTTP != nil {
		if httpLis, err = g.listen("http", l.HTTP.Address, g.httpTLS); err != nil {
			_ = grpcLis.Close() // Start fails anyway
			return err
		}
	}
	if l.Admin != nil {
		if adminLis, err = g.listen("admin", l.Admin.Address, g.adminTLS); err != nil {
			_ = grpcLis.Close() // Start fails anyway
			if httpLis != nil {
				_ = httpLis.Close()
			}
			return err
		}
	}
	go g.serve("grpc", func() error { return g.grpcServer.Serve(grpcLis) })
	go func() { _ = g.adminGRPC.Serve(g.adminMem) }()
	if httpLis != nil {
		go g.serve("http", func() error { return g.httpServer.Serve(httpLis) })
	}
	if adminLis != nil {
		go g.serve("admin", func() error { return g.admin.Serve(adminLis) })
	}
	g.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	g.ready.Store(true)
	g.log.Info("portcullis gateway serving", "grpc", grpcLis.Addr().String(), "http", addrString(httpLis), "admin", addrString(adminLis),
		"routes", len(g.routes), "methods", g.registry.Len())
	return nil
}

func (g *Gateway) listen(name, addr string, rl *tlsconfig.Reloader) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listeners.%s: %w", name, err)
	}
	g.setListener(name, lis)
	if rl != nil {
		return tlsListener(lis, rl), nil
	}
	return lis, nil
}

func (g *Gateway) setListener(name string, l net.Listener) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listeners[name] = l
}

// Addr returns the bound address of a listener ("grpc", "http", "admin"),
// or nil before Start or when the listener is not configured.
func (g *Gateway) Addr(name string) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l, ok := g.listeners[name]; ok {
		return l.Addr()
	}
	return nil
}

func (g *Gateway) serve(name string, fn func() error) {
	if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
		g.log.Error("listener failed", "listener", name, "err", err)
		g.serveErr <- fmt.Errorf("gateway: %s listener: %w", name, err)
	}
}

// Run starts the gateway and serves until ctx is done, then shuts down
// gracefully within the configured shutdown_timeout.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.Start(); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-g.serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// Shutdown stops accepting calls, reports not-ready and NOT_SERVING, lets
// in-flight calls and streams finish until ctx is done, then cancels the
// rest. It is safe to call more than once.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var err error
	g.stopOnce.Do(func() {
		g.ready.Store(false)
		g.health.Shutdown()
		g.log.Info("portcullis gateway draining")
		var wg sync.WaitGroup
		if g.httpServer != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if e := g.httpServer.Shutdown(ctx); e != nil {
					_ = g.httpServer.Close()
				}
			}()
		}
		stopped := make(chan struct{})
		go func() { g.grpcServer.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			g.log.Warn("shutdown deadline reached; cancelling remaining calls")
			g.grpcServer.Stop()
			<-stopped
			err = fmt.Errorf("gateway: shutdown: %w", ctx.Err())
		}
		wg.Wait()
		g.adminGRPC.Stop()
		if g.audit != nil {
			_ = g.audit.Close() // flushes every record of the drained calls
		}
		_ = g.adminConn.Close()
		_ = g.pool.Close()
		if g.authn != nil {
			_ = g.authn.Close()
		}
		if g.id.mgr != nil {
			_ = g.id.mgr.Close()
		}
		if g.redis != nil {
			_ = g.redis.Close()
		}
		g.secrets.close()
		if g.admin != nil {
			_ = g.admin.Close()
		}
		close(g.done)
		g.log.Info("portcullis gateway stopped")
	})
	return err
}

// Registry returns the compiled policy registry the gateway serves.
func (g *Gateway) Registry() *policy.Registry { return g.registry }

func addrString(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}
