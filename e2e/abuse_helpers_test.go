package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// Helpers of the abuse suite (abuse_test.go): a gateway of its own, a
// well-behaved client that measures latency during an attack, the
// gateway's resident memory, and a raw HTTP/2 client that sends what
// grpc-go and net/http would refuse to send.

// Liveness budgets: generous, since the machine is small and shared. They
// catch a gateway that stalls or balloons, not one that is slow.
const (
	latencyBudget = 2 * time.Second // p99 of the well-behaved client's calls
	rssBudget     = 200 << 20       // growth of the gateway's VmRSS
)

// abuseTopology is interopserver behind a gateway used by the abuse suite
// only, so attacks disturb no other test and the gateway's memory is its
// own. Bank (Ping only) keeps the default 4 MiB limits; the TestService's
// requests are limited to 1 MiB, below the server-wide limit.
type abuseTopology struct {
	backend *backend
	gw      *gateway
}

var abuse struct {
	once sync.Once
	top  *abuseTopology
	err  error
}

const abuseMaxRequest = 1 << 20 // the TestService route's max_request_bytes

func abuseEnv(t *testing.T) *abuseTopology {
	t.Helper()
	abuse.once.Do(func() {
		b, err := startBackend("interopserver")
		if err != nil {
			abuse.err = err
			return
		}
		keep(b.proc)
		g, err := startGateway(gatewayConfig{descriptors: true, routes: []route{
			{service: bankService, backend: b.addr},
			{service: interopService, backend: b.addr, extra: []string{fmt.Sprintf("max_request_bytes: %d", abuseMaxRequest)}},
		}})
		if err != nil {
			abuse.err = err
			return
		}
		keep(g.proc)
		abuse.top = &abuseTopology{backend: b, gw: g}
	})
	if abuse.err != nil {
		t.Fatalf("abuse topology: %v", abuse.err)
	}
	return abuse.top
}

// rss returns the resident memory of a process (VmRSS in /proc), in bytes.
func rss(t *testing.T, p *proc) int64 {
	t.Helper()
	n, ok := procRSS(p)
	switch {
	case !ok && p.exited():
		t.Fatalf("%s exited; output:\n%s", p.name, p.out)
	case !ok:
		t.Skip("no VmRSS in /proc/PID/status on this system: the abuse suite measures memory there")
	}
	return n
}

// restClient is a Go HTTPS client of the REST front; h1 forces HTTP/1.1.
func restClient(t *testing.T, h1 bool) *http.Client {
	t.Helper()
	return restClientFrom(t, h1, nil)
}

// proberAddr is the well-behaved client's address: the attacks come from
// 127.0.0.1, and per-client rate limits (Ping: 50/s per client IP) must not
// count the attacker's calls against the victim.
var proberAddr = net.IPv4(127, 0, 0, 2)

// fromDialer dials from local (any address if nil).
func fromDialer(local net.IP) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return d
}

// restClientFrom is restClient with connections from the local address.
func restClientFrom(t *testing.T, h1 bool, local net.IP) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: clientTLS(t, ""), ForceAttemptHTTP2: !h1, DialContext: fromDialer(local).DialContext}
	if h1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no h2
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// restDo sends one request and returns the status and at most 1 MiB of
// the body.
func restDo(c *http.Client, req *http.Request) (int, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// prober is the well-behaved client: every 100ms it pings the gateway over
// gRPC (its own connection) and REST, from proberAddr, and samples the
// gateway's memory.
type prober struct {
	done chan struct{}
	stop chan struct{}

	mu      sync.Mutex
	latency []time.Duration
	errs    []string
	maxRSS  int64
}

// probeStats is what a prober saw.
type probeStats struct {
	calls   int
	errs    []string
	p50     time.Duration
	p99     time.Duration
	max     time.Duration
	baseRSS int64
	maxRSS  int64
}

func (s probeStats) String() string {
	return fmt.Sprintf("%d calls, %d errors, latency p50 %v p99 %v max %v, gateway RSS %d MiB → peak %d MiB (+%d MiB)",
		s.calls, len(s.errs), s.p50, s.p99, s.max, s.baseRSS>>20, s.maxRSS>>20, (s.maxRSS-s.baseRSS)>>20)
}

// startProber starts probing top's gateway until the returned function is
// called (at most 3 minutes); that function returns what the prober saw.
func startProber(t *testing.T, top *abuseTopology) func() probeStats {
	t.Helper()
	base := rss(t, top.gw.proc)
	ping := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return fromDialer(proberAddr).DialContext(ctx, "tcp", addr)
	})))
	web := restClientFrom(t, false, proberAddr)
	p := &prober{done: make(chan struct{}), stop: make(chan struct{}), maxRSS: base}
	call := func(name string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		err := f(ctx)
		d := time.Since(start)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.latency = append(p.latency, d)
		if err != nil {
			p.errs = append(p.errs, fmt.Sprintf("%s: %v", name, err))
		}
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for range 1800 { // 3 minutes
			call("gRPC Ping", func(ctx context.Context) error {
				_, err := ping.Ping(ctx, &bankv1.PingRequest{})
				return err
			})
			call("GET /v1/ping", func(ctx context.Context) error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+top.gw.httpAddr+"/v1/ping", nil)
				code, body, err := restDo(web, req)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("HTTP %d %s", code, body)
				}
				return err
			})
			if m, ok := procRSS(top.gw.proc); ok {
				p.mu.Lock()
				p.maxRSS = max(p.maxRSS, m)
				p.mu.Unlock()
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() probeStats {
		// A handful of calls at least, however short the attack.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			p.mu.Lock()
			n := len(p.latency)
			p.mu.Unlock()
			if n >= 6 {
				break
			}
		}
		close(p.stop)
		<-p.done
		p.mu.Lock()
		defer p.mu.Unlock()
		s := probeStats{calls: len(p.latency), errs: p.errs, baseRSS: base, maxRSS: p.maxRSS}
		if m, ok := procRSS(top.gw.proc); ok {
			s.maxRSS = max(s.maxRSS, m)
		}
		lat := slices.Clone(p.latency)
		slices.Sort(lat)
		if n := len(lat); n > 0 {
			s.p50, s.p99, s.max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
		}
		return s
	}
}

// procRSS returns VmRSS of /proc/PID/status in bytes; false if unreadable.
// Safe to call from any goroutine.
func procRSS(p *proc) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// checkProbe fails unless the well-behaved client was served throughout
// the attack: a handful of calls at least, none failed, p99 within the
// latency budget, and the gateway's memory grew less than the budget.
func checkProbe(t *testing.T, attack string, s probeStats) {
	t.Helper()
	t.Logf("%s: well-behaved client: %v", attack, s)
	if s.calls < 4 {
		t.Errorf("%s: well-behaved client made %d calls, want at least 4", attack, s.calls)
	}
	if len(s.errs) > 0 {
		t.Errorf("%s: well-behaved client had %d failed calls, want none; first: %s", attack, len(s.errs), s.errs[0])
	}
	if s.p99 > latencyBudget {
		t.Errorf("%s: well-behaved client p99 latency = %v, want at most %v", attack, s.p99, latencyBudget)
	}
	if grew := s.maxRSS - s.baseRSS; grew > rssBudget {
		t.Errorf("%s: gateway RSS grew by %d MiB (%d → %d MiB), want less than %d MiB", attack, grew>>20, s.baseRSS>>20, s.maxRSS>>20, rssBudget>>20)
	}
}

// goroutines returns the gateway's go_goroutines gauge.
func goroutines(t *testing.T, top *abuseTopology) float64 {
	t.Helper()
	return metricValue(t, top.gw, "go_goroutines", nil)
}

// checkGoroutines fails unless the gateway's goroutines come back to
// within 50 of before in 10s, once the attacking connections are closed:
// the handlers of aborted streams must end.
func checkGoroutines(t *testing.T, attack string, top *abuseTopology, before float64) {
	t.Helper()
	var now float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if now = goroutines(t, top); now <= before+50 {
			t.Logf("%s: gateway goroutines %v before, %v after", attack, before, now)
			return
		}
	}
	t.Errorf("%s: gateway goroutines = %v 10s after the attack, want at most %v (%v before)", attack, now, before+50, before)
}

// checkAlive fails unless the gateway is running and answers a Ping over
// a new gRPC connection and over REST.
func checkAlive(t *testing.T, top *abuseTopology) {
	t.Helper()
	if top.gw.exited() {
		t.Fatalf("gateway exited after the attack; output:\n%s", top.gw.out)
	}
	cc := dial(t, top.gw.grpcAddr)
	if _, err := bankv1.NewBankServiceClient(cc).Ping(timeout(t, 10*time.Second), &bankv1.PingRequest{}); err != nil {
		t.Errorf("Ping() after the attack = %v, want nil", err)
	}
	_ = cc.Close()
	req, _ := http.NewRequestWithContext(timeout(t, 10*time.Second), http.MethodGet, "https://"+top.gw.httpAddr+"/v1/ping", nil)
	if code, body, err := restDo(restClient(t, false), req); err != nil || code != http.StatusOK {
		t.Errorf("GET /v1/ping after the attack = %d %q, %v, want 200", code, body, err)
	}
}

// h2Client is a raw HTTP/2 client over TLS: it writes frames as told,
// however abusive, and records what the server answers. A reader goroutine
// acknowledges SETTINGS and PING and returns flow-control credit for DATA.
type h2Client struct {
	conn net.Conn
	fr   *http2.Framer
	bw   *bufio.Writer

	wmu    sync.Mutex // guards writes: fr's write side, bw, enc, hbuf, nextID
	enc    *hpack.Encoder
	hbuf   bytes.Buffer
	nextID uint32

	closed  chan struct{} // closed when the reader stops: the server closed the connection or sent a fatal error
	readErr error         // set before closed is closed

	mu        sync.Mutex
	streams   map[uint32]*h2Stream // only streams opened with track
	rsts      map[http2.ErrCode]int
	responses int     // HEADERS frames received
	goAway    *goAway // the last GOAWAY, nil if none

	pings chan [8]byte // PING acknowledgements
}

// goAway is a received GOAWAY frame.
type goAway struct {
	code         http2.ErrCode
	lastStreamID uint32
	debug        string
}

func (g *goAway) String() string {
	if g == nil {
		return "none"
	}
	return fmt.Sprintf("%v (last stream %d, %q)", g.code, g.lastStreamID, g.debug)
}

// h2Stream is what the server answered on one tracked stream.
type h2Stream struct {
	c      *h2Client
	header []hpack.HeaderField // every HEADERS frame, merged
	rst    *http2.ErrCode
	done   chan struct{} // closed on END_STREAM or RST_STREAM
}

// field returns the first value of a header field received so far, or "".
func (s *h2Stream) field(name string) string {
	for _, f := range s.headers() {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// headers returns the header fields received so far.
func (s *h2Stream) headers() []hpack.HeaderField {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return slices.Clone(s.header)
}

// reset returns the RST_STREAM code received, nil if none.
func (s *h2Stream) reset() *http2.ErrCode {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.rst
}

// dialH2 opens a TLS connection with ALPN h2 and sends the preface and an
// empty SETTINGS frame.
func dialH2(t *testing.T, addr string) *h2Client {
	t.Helper()
	cfg := clientTLS(t, "")
	cfg.NextProtos = []string{"h2"}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx := timeout(t, 10*time.Second)
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	if p := conn.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		conn.Close()
		t.Fatalf("TLS dial %s: ALPN %q, want h2", addr, p)
	}
	c := &h2Client{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10), nextID: 1, closed: make(chan struct{}),
		streams: map[uint32]*h2Stream{}, rsts: map[http2.ErrCode]int{}, pings: make(chan [8]byte, 1)}
	c.fr = http2.NewFramer(c.bw, conn)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.enc = hpack.NewEncoder(&c.hbuf)
	t.Cleanup(func() { c.close() })
	c.wmu.Lock()
	_, _ = c.bw.WriteString(http2.ClientPreface)
	err = c.fr.WriteSettings()
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		t.Fatalf("HTTP/2 preface to %s: %v", addr, err)
	}
	go c.read()
	return c
}

func (c *h2Client) close() {
	_ = c.conn.Close()
	<-c.closed
}

// err returns why the connection closed, nil while it is open.
func (c *h2Client) err() error {
	if c.isClosed() {
		return c.readErr
	}
	return nil
}

// isClosed reports whether the server has closed the connection.
func (c *h2Client) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *h2Client) read() {
	defer close(c.closed)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.readErr = err
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.write(func() error { return c.fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if f.IsAck() {
				select {
				case c.pings <- f.Data:
				default:
				}
			} else {
				c.write(func() error { return c.fr.WritePing(true, f.Data) })
			}
		case *http2.DataFrame:
			if n := uint32(len(f.Data())); n > 0 {
				c.write(func() error {
					if err := c.fr.WriteWindowUpdate(0, n); err != nil {
						return err
					}
					return c.fr.WriteWindowUpdate(f.StreamID, n)
				})
			}
			if f.StreamEnded() {
				c.event(f.StreamID, func(s *h2Stream) { close(s.done) })
			}
		case *http2.MetaHeadersFrame:
			c.mu.Lock()
			c.responses++
			c.mu.Unlock()
			fields := slices.Clone(f.Fields) // f is only valid until the next ReadFrame
			c.event(f.StreamID, func(s *h2Stream) {
				s.header = append(s.header, fields...)
				if f.StreamEnded() {
					close(s.done)
				}
			})
		case *http2.RSTStreamFrame:
			c.mu.Lock()
			c.rsts[f.ErrCode]++
			c.mu.Unlock()
			c.event(f.StreamID, func(s *h2Stream) {
				code := f.ErrCode
				s.rst = &code
				close(s.done)
			})
		case *http2.GoAwayFrame:
			g := &goAway{code: f.ErrCode, lastStreamID: f.LastStreamID, debug: string(f.DebugData())}
			c.mu.Lock()
			c.goAway = g
			c.mu.Unlock()
		}
	}
}

// event runs fn on a tracked stream that is not done yet.
func (c *h2Client) event(id uint32, fn func(s *h2Stream)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.streams[id]; ok {
		select {
		case <-s.done:
		default:
			fn(s)
		}
	}
}

// write runs fn under the write lock and flushes.
func (c *h2Client) write(fn func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := fn(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// openLocked writes the HEADERS (and CONTINUATION) frames of a new stream
// with the given fields, END_STREAM if endStream, and returns its id. It
// does not flush. Callers hold wmu.
func (c *h2Client) openLocked(fields []hpack.HeaderField, endStream bool) (uint32, error) {
	id := c.nextID
	c.nextID += 2
	c.hbuf.Reset()
	for _, f := range fields {
		if err := c.enc.WriteField(f); err != nil {
			return 0, err
		}
	}
	block := c.hbuf.Bytes()
	const chunk = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
	first := block[:min(len(block), chunk)]
	block = block[len(first):]
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: endStream, EndHeaders: len(block) == 0}); err != nil {
		return 0, err
	}
	for len(block) > 0 {
		next := block[:min(len(block), chunk)]
		block = block[len(next):]
		if err := c.fr.WriteContinuation(id, len(block) == 0, next); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// track opens a stream whose answer is recorded, sends body (if not nil)
// in DATA frames of at most 16 KiB, and returns the stream.
func (c *h2Client) track(fields []hpack.HeaderField, body []byte) (*h2Stream, error) {
	s := &h2Stream{c: c, done: make(chan struct{})}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	id := c.nextID
	c.streams[id] = s
	c.mu.Unlock()
	if _, err := c.openLocked(fields, body == nil); err != nil {
		return nil, err
	}
	for body != nil {
		n := min(len(body), 16<<10)
		if err := c.fr.WriteData(id, n == len(body), body[:n]); err != nil {
			return nil, err
		}
		body = body[n:]
		if len(body) == 0 {
			break
		}
	}
	return s, c.bw.Flush()
}

// wait waits up to d for the stream to end or the connection to close;
// false if neither happened.
func (s *h2Stream) wait(d time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-s.c.closed:
		return true
	case <-time.After(d):
		return false
	}
}

// ping sends a PING and waits up to d for its acknowledgement. The server
// reads frames in order, so the ack means it has read every frame before.
func (c *h2Client) ping(d time.Duration) error {
	data := [8]byte{'a', 'b', 'u', 's', 'e'}
	if err := c.write(func() error { return c.fr.WritePing(false, data) }); err != nil {
		return err
	}
	select {
	case <-c.pings:
		return nil
	case <-c.closed:
		return fmt.Errorf("connection closed: %v", c.readErr)
	case <-time.After(d):
		return fmt.Errorf("no PING acknowledgement within %v", d)
	}
}

// grpcRequest returns the header fields of a gRPC call of method, plus
// extra fields.
func grpcRequest(addr, method string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "https"},
		{Name: ":path", Value: method},
		{Name: ":authority", Value: addr},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}, extra...)
}

// grpcMessage frames msg as one gRPC message (compressed flag as given).
func grpcMessage(msg []byte, compressed bool) []byte {
	out := make([]byte, 5, 5+len(msg))
	if compressed {
		out[0] = 1
	}
	out[1], out[2], out[3], out[4] = byte(len(msg)>>24), byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg))
	return append(out, msg...)
}

// stats returns the RST_STREAM counts, HEADERS count and GOAWAY received.
func (c *h2Client) stats() (map[http2.ErrCode]int, int, *goAway) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rsts := map[http2.ErrCode]int{}
	for k, v := range c.rsts {
		rsts[k] = v
	}
	return rsts, c.responses, c.goAway
}
