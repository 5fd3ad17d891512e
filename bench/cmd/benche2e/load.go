package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// callTimeout bounds every single request.
const callTimeout = 5 * time.Second

// caller sends one checked request: nil only for a well-formed success.
// worker picks the connection, so that workers spread over connections.
type caller interface {
	call(ctx context.Context, worker int) error
	close()
}

var pingRequest = &bankv1.PingRequest{} // read-only, shared by all calls

// grpcCaller calls BankService.Ping over a fixed set of h2c connections.
type grpcCaller struct {
	conns   []*grpc.ClientConn
	clients []bankv1.BankServiceClient
	token   string // with a token: GetAccount, a protected method, instead of Ping
}

var getAccountRequest = &bankv1.GetAccountRequest{Name: "accounts/alice-checking"}

func newGRPCCaller(addr string, conns int) (*grpcCaller, error) {
	g := &grpcCaller{}
	for range conns {
		// Each ClientConn owns its own TCP connection.
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			g.close()
			return nil, err
		}
		g.conns = append(g.conns, cc)
		g.clients = append(g.clients, bankv1.NewBankServiceClient(cc))
	}
	return g, nil
}

func (g *grpcCaller) call(ctx context.Context, worker int) error {
	if g.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+g.token)
		resp, err := g.clients[worker%len(g.clients)].GetAccount(ctx, getAccountRequest)
		if err != nil {
			s := status.Convert(err)
			return fmt.Errorf("grpc-status %s: %s", s.Code(), s.Message())
		}
		if resp.GetAccount().GetName() != getAccountRequest.Name {
			return fmt.Errorf("GetAccount returned %q", resp.GetAccount().GetName())
		}
		return nil
	}
	resp, err := g.clients[worker%len(g.clients)].Ping(ctx, pingRequest)
	if err != nil {
		s := status.Convert(err)
		return fmt.Errorf("grpc-status %s: %s", s.Code(), s.Message())
	}
	if resp.GetStatus() != "ok" {
		return fmt.Errorf("ping status %q, want \"ok\"", resp.GetStatus())
	}
	return nil
}

func (g *grpcCaller) close() {
	for _, cc := range g.conns {
		_ = cc.Close()
	}
}

// restCaller sends GET /v1/ping over HTTP/1.1 keep-alive connections, one
// per in-flight request (the gateway's plaintext HTTP listener speaks
// HTTP/1.1; h2 needs TLS).
type restCaller struct {
	client *http.Client
	url    string
}

func newRESTCaller(addr string, conns int) *restCaller {
	tr := &http.Transport{ // no Proxy: never route loopback through an environment proxy
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableCompression: true,
	}
	return &restCaller{client: &http.Client{Transport: tr}, url: "http://" + addr + "/v1/ping"}
}

var okBody = []byte(`"status":"ok"`)

func (r *restCaller) call(ctx context.Context, _ int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close() // read fully above; a close error changes nothing
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("HTTP %d: %.100s", resp.StatusCode, body)
	case !bytes.Contains(body, okBody):
		return fmt.Errorf("HTTP 200 with body %.100q", body)
	}
	return nil
}

func (r *restCaller) close() { r.client.CloseIdleConnections() }

// errCount counts failed requests and keeps the first error message. It
// also counts requests the open loop dropped unsent (not target errors).
type errCount struct {
	n       atomic.Int64
	dropped atomic.Int64
	once    sync.Once
	first   string
}

func (e *errCount) add(err error) {
	e.n.Add(1)
	e.once.Do(func() { e.first = err.Error() })
}

// closedLoop runs workers that each send back-to-back requests until d has
// passed, then waits for the requests in flight. It returns the count of
// successes and the wall time until the last request ended.
func closedLoop(ctx context.Context, c caller, workers int, d time.Duration, errs *errCount) (ok int64, elapsed time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d+callTimeout)
	defer cancel()
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			var n int64
			for ctx.Err() == nil && time.Now().Before(end) {
				if err := c.call(ctx, w); err != nil {
					errs.add(err)
					continue
				}
				n++
			}
			total.Add(n)
		})
	}
	wg.Wait()
	return total.Load(), time.Since(start)
}

// maxInFlight bounds the open loop: a request that would exceed it is
// counted as dropped instead of being sent (the machine or target stalled
// for about half a second).
const maxInFlight = 512

// openLoop sends rate requests per second for d, on schedule whether or not
// earlier ones have answered, and returns the latencies of the successful
// ones, sorted (failed requests leave a zero slot, dropped here). Latency runs from just before the call to its end.
func openLoop(ctx context.Context, c caller, workers, rate int, d time.Duration, errs *errCount) []time.Duration {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	lat := make([]time.Duration, n) // each request writes only its own slot
	ctx, cancel := context.WithTimeout(ctx, d+callTimeout)
	defer cancel()
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		if inFlight.Add(1) > maxInFlight {
			inFlight.Add(-1)
			errs.dropped.Add(1)
			continue
		}
		wg.Go(func() {
			defer inFlight.Add(-1)
			t0 := time.Now()
			if err := c.call(ctx, i%workers); err != nil {
				errs.add(err)
				return
			}
			lat[i] = time.Since(t0)
		})
	}
	wg.Wait()
	lat = slices.DeleteFunc(lat, func(d time.Duration) bool { return d <= 0 })
	slices.Sort(lat)
	return lat
}

// percentile returns the q-quantile (0 < q ≤ 1) of sorted latencies, by the
// nearest-rank method; 0 when there are none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// sample is one target's figures from one round.
type sample struct {
	rps                  float64
	p50, p99             time.Duration
	proxyCPU, backendCPU float64 // µs per request; NaN when unknown (no proxy)
	foreign              float64 // CPUs busy outside this harness and its children, on average over both phases
	attempts             int     // measurements taken (more than 1 when other load forced a retry)
	errors, dropped      int64
	firstErr             string
}

// measure runs one round for one target: the throughput phase, with CPU
// read before and after it, then the latency phase. Other work on the
// machine skews both, so it first waits (up to 3 s) for other load to drop
// under cfg.maxOther CPUs, and if the load during the measurement was higher
// it measures again, up to cfg.retries times, keeping the quietest attempt;
// errors of every attempt count.
func measure(ctx context.Context, t *target, backend *child, cfg *config) sample {
	waitQuiet(ctx, cfg.maxOther, 3*time.Second)
	best := measureOnce(ctx, t, backend, cfg)
	errors, firstErr, attempts := best.errors, best.firstErr, 1
	for ; attempts <= cfg.retries && best.foreign > cfg.maxOther && ctx.Err() == nil; attempts++ {
		waitQuiet(ctx, cfg.maxOther, 3*time.Second)
		m := measureOnce(ctx, t, backend, cfg)
		errors += m.errors
		if firstErr == "" {
			firstErr = m.firstErr
		}
		if m.foreign < best.foreign {
			best = m
		}
	}
	best.errors, best.firstErr, best.attempts = errors, firstErr, attempts
	return best
}

// measureOnce takes one measurement.
func measureOnce(ctx context.Context, t *target, backend *child, cfg *config) sample {
	var errs errCount
	start, f0 := time.Now(), foreignCPU()
	p0, b0 := cpuOf(t.proxy), cpuOf(backend)
	ok, elapsed := closedLoop(ctx, t.caller, cfg.stream, cfg.duration, &errs)
	p1, b1 := cpuOf(t.proxy), cpuOf(backend)
	n := float64(ok + errs.n.Load())
	lat := openLoop(ctx, t.caller, cfg.stream, cfg.rate, cfg.latency, &errs)
	f1 := foreignCPU()
	return sample{
		rps: float64(ok) / elapsed.Seconds(), p50: percentile(lat, 0.50), p99: percentile(lat, 0.99),
		proxyCPU: perRequest(p0, p1, n), backendCPU: perRequest(b0, b1, n),
		foreign: max(0, (f1-f0)/float64(time.Since(start).Microseconds())),
		errors:  errs.n.Load(), dropped: errs.dropped.Load(), firstErr: errs.first,
	}
}

// waitQuiet returns once other processes used at most maxOther CPUs over a
// 250 ms window, or after maxWait, or when ctx ends.
func waitQuiet(ctx context.Context, maxOther float64, maxWait time.Duration) {
	const window = 250 * time.Millisecond
	for end := time.Now().Add(maxWait); time.Now().Before(end) && ctx.Err() == nil; {
		f0 := foreignCPU()
		time.Sleep(window)
		if !((foreignCPU()-f0)/float64(window.Microseconds()) > maxOther) {
			return // quiet, or unreadable
		}
	}
}

// cpuOf returns a child's CPU time in µs, NaN for no child or an error.
func cpuOf(c *child) float64 {
	if c == nil {
		return math.NaN()
	}
	d, err := c.cpu()
	if err != nil {
		return math.NaN()
	}
	return float64(d.Microseconds())
}

func perRequest(before, after, n float64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return (after - before) / n
}
