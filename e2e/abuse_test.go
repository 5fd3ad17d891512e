package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The abuse suite attacks the running gateway binary over loopback, each
// attack bounded in count and time, while a well-behaved client (prober)
// keeps calling it on connections of its own. After every attack the
// gateway must still be running and answer a Ping; during it, the
// well-behaved client must be served within a generous latency budget and
// the gateway's memory must stay within a generous bound. The budgets are
// liveness checks, not performance assertions.
//
// Size limits are also tested, without load, in TestLargeMessages
// (interop_test.go) and TestRESTErrors (rest_test.go); the metadata limits
// in gateway/hygiene_limits_test.go.

const (
	pingMethod      = "/examples.bank.v1.BankService/Ping"
	unaryCallMethod = "/grpc.testing.TestService/UnaryCall"
	emptyCallMethod = "/grpc.testing.TestService/EmptyCall"
	duplexMethod    = "/grpc.testing.TestService/FullDuplexCall"
)

// metadataLimitsMessage is the fixed refusal of gateway/hygiene.go.
const metadataLimitsMessage = "request metadata over the gateway's limits: at most 100 entries and 8 KiB per value"

// backendCalls counts the calls of method the backend has started.
func backendCalls(top *abuseTopology, method string) int {
	return top.backend.countLogs("msg", "call started", "grpc.method", method)
}

// TestAbuseRapidReset is CVE-2023-44487: HEADERS immediately followed by
// RST_STREAM, as fast as the connection takes them (at most 20,000 streams
// or 10s per connection, on 2 connections at once), for a method without a
// rate limit, so every stream gets as far as the chain lets it. The gateway
// may close an attacking connection (GOAWAY or EOF) or keep serving it;
// either way other clients are served.
func TestAbuseRapidReset(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	backendBefore, goBefore := backendCalls(top, emptyCallMethod), goroutines(t, top)
	var wg sync.WaitGroup
	for i := range 2 {
		c := dialH2(t, top.gw.grpcAddr)
		wg.Go(func() {
			rapidReset(t, top, fmt.Sprintf("connection %d", i), c)
			c.close()
		})
	}
	wg.Wait()
	t.Logf("rapid reset: %d calls reached the backend", backendCalls(top, emptyCallMethod)-backendBefore)
	checkProbe(t, "rapid reset", probe())
	checkGoroutines(t, "rapid reset", top, goBefore)
	checkAlive(t, top)
}

// rapidReset attacks on c and checks the outcome: c closed by the gateway,
// or still served.
func rapidReset(t *testing.T, top *abuseTopology, name string, c *h2Client) {
	req := grpcRequest(top.gw.grpcAddr, emptyCallMethod, hpack.HeaderField{Name: "grpc-timeout", Value: "5S"})
	const maxStreams, maxTime, batch = 20000, 10 * time.Second, 100
	start := time.Now()
	sent := 0
	var werr error
	for sent < maxStreams && time.Since(start) < maxTime && !c.isClosed() {
		werr = c.write(func() error {
			for range batch {
				id, err := c.openLocked(req, false)
				if err != nil {
					return err
				}
				if err := c.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
					return err
				}
			}
			return nil
		})
		if werr != nil {
			break
		}
		sent += batch
	}
	written := time.Since(start)
	// The writes only fill socket buffers: the PING's ack says when the
	// gateway has read every frame.
	perr := c.ping(30 * time.Second)
	elapsed := time.Since(start)
	rsts, responses, ga := c.stats()
	closed := c.isClosed() || ga != nil
	t.Logf("rapid reset, %s: %d streams written in %v (write error: %v), read by the gateway after %v (PING: %v); server: %d HEADERS, RST_STREAM %v, GOAWAY %v, connection closed: %v (read error: %v)",
		name, sent, written.Round(time.Millisecond), werr, elapsed.Round(time.Millisecond), perr, responses, rsts, ga, c.isClosed(), c.err())
	if perr != nil && !closed {
		t.Errorf("rapid reset, %s: the connection is neither served nor closed: %v", name, perr)
	}
	if sent < 1000 && !closed {
		t.Errorf("rapid reset, %s: sent %d streams in %v and the connection is open, want at least 1000 (the attack did not run)", name, sent, elapsed)
	}
	if closed {
		return
	}
	// The gateway kept the connection: it must still serve it.
	s, err := c.track(grpcRequest(top.gw.grpcAddr, emptyCallMethod), grpcMessage(nil, false))
	switch {
	case err != nil:
		t.Errorf("rapid reset, %s: EmptyCall afterwards: write: %v, want an answer or GOAWAY", name, err)
	case !s.wait(10 * time.Second):
		t.Errorf("rapid reset, %s: EmptyCall afterwards: no answer within 10s", name)
	case c.isClosed():
		t.Logf("rapid reset, %s: EmptyCall afterwards: connection closed (%v)", name, c.err())
	case s.field("grpc-status") != "0":
		t.Errorf("rapid reset, %s: EmptyCall afterwards = RST %v, headers %v, want grpc-status 0", name, s.reset(), s.headers())
	}
}

// TestAbuseStreamFlood opens more streams than the server's
// MAX_CONCURRENT_STREAMS (1024) on one connection and never ends them:
// the excess must be refused (RST_STREAM REFUSED_STREAM) and other
// connections served.
func TestAbuseStreamFlood(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	goBefore := goroutines(t, top)
	c := dialH2(t, top.gw.grpcAddr)
	const limit, extra = 1024, 128
	// Bidi streams that send nothing: each stays open until its deadline.
	req := grpcRequest(top.gw.grpcAddr, duplexMethod, hpack.HeaderField{Name: "grpc-timeout", Value: "30S"})
	for i := 0; i < limit+extra-1; i += 64 {
		n := min(64, limit+extra-1-i)
		if err := c.write(func() error {
			for range n {
				if _, err := c.openLocked(req, false); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("stream flood: write stream %d: %v", i, err)
		}
	}
	last, err := c.track(req, nil) // stream limit+extra, past the limit
	if err != nil {
		t.Fatalf("stream flood: write the last stream: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !c.isClosed() {
		if rsts, _, _ := c.stats(); rsts[http2.ErrCodeRefusedStream] >= extra {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // hold the streams open while the prober calls
	rsts, responses, ga := c.stats()
	t.Logf("stream flood: %d streams; server: %d HEADERS, RST_STREAM %v, GOAWAY %v, connection closed: %v", limit+extra, responses, rsts, ga, c.isClosed())
	if c.isClosed() {
		t.Errorf("stream flood: the gateway closed the connection (GOAWAY %v, %v), want it to refuse only the excess streams", ga, c.err())
	}
	// Every accepted stream is still open (30s deadline), so exactly the
	// excess is refused.
	if got := rsts[http2.ErrCodeRefusedStream]; got != extra {
		t.Errorf("stream flood: %d REFUSED_STREAM of %d streams, want %d (at most %d open at once)", got, limit+extra, extra, limit)
	}
	if !last.wait(time.Second) || last.reset() == nil || *last.reset() != http2.ErrCodeRefusedStream {
		t.Errorf("stream flood: stream %d past the limit got RST %v, headers %v, want RST_STREAM REFUSED_STREAM", limit+extra, last.reset(), last.headers())
	}
	checkProbe(t, "stream flood", probe())
	c.close() // ends the 1024 streams: the gateway must let them and their backend streams go
	checkGoroutines(t, "stream flood", top, goBefore)
	checkAlive(t, top)
}

// TestAbuseOversizedHeaders sends header lists over the 64 KiB limit and
// more metadata entries or longer values than the gateway accepts.
func TestAbuseOversizedHeaders(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	big := strings.Repeat("a", 80<<10) // over the 64 KiB header list limit

	// One value longer than the whole list limit, and many values that
	// are each fine but together over it: the HTTP/2 stacks take different
	// paths for the two (hpack string length, header list size).
	oversized := []struct {
		name   string
		fields []hpack.HeaderField
	}{
		{"one 80 KiB value", []hpack.HeaderField{{Name: "x-big", Value: big}}},
		{"20 values of 4 KiB", func() []hpack.HeaderField {
			var out []hpack.HeaderField
			for i := range 20 {
				out = append(out, hpack.HeaderField{Name: fmt.Sprintf("x-part-%d", i), Value: strings.Repeat("b", 4<<10)})
			}
			return out
		}()},
	}

	for _, o := range oversized {
		t.Run("gRPC header list over 64 KiB, "+o.name, func(t *testing.T) {
			// grpc-go clients refuse to send this (they honour the server's
			// SETTINGS_MAX_HEADER_LIST_SIZE): the raw client does.
			c := dialH2(t, top.gw.grpcAddr)
			before := backendCalls(top, emptyCallMethod)
			s, err := c.track(grpcRequest(top.gw.grpcAddr, emptyCallMethod, o.fields...), grpcMessage(nil, false))
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if !s.wait(10 * time.Second) {
				t.Fatalf("EmptyCall with %s: no answer within 10s", o.name)
			}
			_, _, ga := c.stats()
			t.Logf("EmptyCall with %s: RST %v, grpc-status %q, GOAWAY %v, connection closed %v", o.name, s.reset(), s.field("grpc-status"), ga, c.isClosed())
			if !c.isClosed() && s.reset() == nil && (s.field("grpc-status") == "" || s.field("grpc-status") == "0") {
				t.Errorf("EmptyCall with %s = headers %v, want RST_STREAM, a non-OK grpc-status or the connection closed", o.name, s.headers())
			}
			if !c.isClosed() { // then the same connection keeps working
				ok, err := c.track(grpcRequest(top.gw.grpcAddr, pingMethod), grpcMessage(nil, false))
				switch {
				case err != nil:
					t.Errorf("Ping after the refusal on the same connection: write: %v", err)
				case !ok.wait(10*time.Second) || ok.field("grpc-status") != "0":
					t.Errorf("Ping after the refusal on the same connection = RST %v, headers %v, want grpc-status 0", ok.reset(), ok.headers())
				}
			}
			if n := backendCalls(top, emptyCallMethod) - before; n != 0 {
				t.Errorf("backend EmptyCall calls during the test = %d, want 0 (never forwarded)", n)
			}
		})
	}

	t.Run("gRPC metadata limits", func(t *testing.T) {
		c := testpb.NewTestServiceClient(dial(t, top.gw.grpcAddr))
		many := make([]string, 0, 2*120)
		for i := range 120 {
			many = append(many, fmt.Sprintf("x-many-%d", i), "v")
		}
		tests := []struct {
			name  string
			pairs []string
		}{
			{"120 entries", many},
			{"a 9 KiB value", []string{"x-long", strings.Repeat("v", 9<<10)}},
		}
		for _, tt := range tests {
			before := backendCalls(top, emptyCallMethod)
			_, err := c.EmptyCall(metadata.AppendToOutgoingContext(timeout(t, 10*time.Second), tt.pairs...), &testpb.Empty{})
			if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != metadataLimitsMessage {
				t.Errorf("EmptyCall(%s) = %v, want InvalidArgument %q", tt.name, err, metadataLimitsMessage)
			}
			if n := backendCalls(top, emptyCallMethod) - before; n != 0 {
				t.Errorf("EmptyCall(%s): backend calls = %d, want 0 (never forwarded)", tt.name, n)
			}
		}
	})

	url := "https://" + top.gw.httpAddr + "/v1/ping"
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		h1 := proto == "HTTP/1.1"
		t.Run("REST "+proto, func(t *testing.T) {
			c := restClient(t, h1)
			tests := []struct {
				name string
				set  func(h http.Header)
				skip bool // Go's HTTP/2 client refuses to send it; see the raw test below
			}{
				{"80 KiB header", func(h http.Header) { h.Set("X-Big", big) }, !h1},
				{"120 headers", func(h http.Header) {
					for i := range 120 {
						h.Set(fmt.Sprintf("X-Many-%d", i), "v")
					}
				}, false},
				{"a 9 KiB value", func(h http.Header) { h.Set("Grpc-Metadata-X-Long", strings.Repeat("v", 9<<10)) }, false},
			}
			for _, tt := range tests {
				if tt.skip {
					continue
				}
				req, _ := http.NewRequestWithContext(timeout(t, 10*time.Second), http.MethodGet, url, nil)
				tt.set(req.Header)
				code, body, err := restDo(c, req)
				if err != nil || code != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("GET /v1/ping with %s (%s) = %d %q, %v, want 431", tt.name, proto, code, body, err)
				}
			}
		})
	}

	for _, o := range oversized {
		t.Run("REST HTTP/2 header list over 64 KiB, "+o.name, func(t *testing.T) {
			c := dialH2(t, top.gw.httpAddr)
			s, err := c.track(append([]hpack.HeaderField{
				{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":path", Value: "/v1/ping"},
				{Name: ":authority", Value: top.gw.httpAddr},
			}, o.fields...), nil)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if !s.wait(10 * time.Second) {
				t.Fatalf("GET /v1/ping with %s (raw HTTP/2): no answer within 10s", o.name)
			}
			_, _, ga := c.stats()
			t.Logf("GET /v1/ping with %s (raw HTTP/2): :status %q, RST %v, GOAWAY %v, connection closed %v", o.name, s.field(":status"), s.reset(), ga, c.isClosed())
			if s.field(":status") != "431" && s.reset() == nil && !c.isClosed() {
				t.Errorf("GET /v1/ping with %s (raw HTTP/2) = headers %v, want :status 431, RST_STREAM or the connection closed", o.name, s.headers())
			}
		})
	}

	checkProbe(t, "oversized headers", probe())
	checkAlive(t, top)
}

// TestAbuseSlowloris holds many connections that never finish a request:
// the gateway must close each within its timeout (REST: ReadHeaderTimeout
// 10s, and net/http's 10s HTTP/2 preface timeout; gRPC: ConnectionTimeout
// 10s over the TLS handshake and HTTP/2 preface) while serving others.
func TestAbuseSlowloris(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	const gatewayTimeout = 10 * time.Second
	const slack = 10 * time.Second // a loaded two-core machine
	type kind struct {
		name  string
		addr  string
		n     int
		alpn  string // "" for a TCP connection that never starts TLS
		first string // written once after the handshake
		drip  string // then one byte a second, cycling
	}
	kinds := []kind{
		{"REST HTTP/1.1 partial headers", top.gw.httpAddr, 100, "http/1.1", "GET /v1/ping HTTP/1.1\r\nHost: localhost\r\n", "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"REST HTTP/2 no preface", top.gw.httpAddr, 20, "h2", "", ""},
		{"gRPC partial preface", top.gw.grpcAddr, 40, "h2", http2.ClientPreface[:8], http2.ClientPreface[8:]},
		{"gRPC no TLS handshake", top.gw.grpcAddr, 40, "", "", ""},
	}
	// Every kind at once, each connection in its own goroutine (not
	// parallel subtests: -parallel defaults to GOMAXPROCS, 2 here).
	var all sync.WaitGroup
	for _, k := range kinds {
		all.Go(func() {
			var mu sync.Mutex
			var slowest, fastest time.Duration
			var wg sync.WaitGroup
			dialing := make(chan struct{}, 8) // 8 handshakes at a time
			for i := range k.n {
				dialing <- struct{}{}
				wg.Go(func() {
					conn, err := slowConn(k.addr, k.alpn, clientTLS(t, ""))
					<-dialing
					if err != nil {
						t.Errorf("%s: connection %d: %v", k.name, i, err)
						return
					}
					defer conn.Close()
					d, err := holdOpen(conn, k.first, k.drip, gatewayTimeout+slack)
					if err != nil {
						t.Errorf("%s: connection %d: %v", k.name, i, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					slowest = max(slowest, d)
					if fastest == 0 || d < fastest {
						fastest = d
					}
				})
			}
			wg.Wait()
			t.Logf("%s: %d connections closed by the gateway after %v to %v", k.name, k.n, fastest.Round(100*time.Millisecond), slowest.Round(100*time.Millisecond))
		})
	}
	all.Wait()
	checkProbe(t, "slowloris", probe())
	checkAlive(t, top)
}

// slowConn opens a TCP connection to addr and, with alpn, completes a TLS
// handshake offering it.
func slowConn(addr, alpn string, cfg *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if alpn == "" {
		return d.Dial("tcp", addr)
	}
	cfg.NextProtos = []string{alpn}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", addr)
}

// holdOpen writes first, then drip one byte a second, until the server
// closes the connection; it returns how long that took, or an error if the
// server did not close it within limit or answered 2xx.
func holdOpen(conn net.Conn, first, drip string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if first != "" {
		if _, err := conn.Write([]byte(first)); err != nil {
			return time.Since(start), nil //nolint:nilerr // the gateway closed it: that is the outcome measured
		}
	}
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for i := 0; time.Since(start) < limit; i++ {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		got.Write(buf[:n])
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			if drip != "" {
				if _, err := conn.Write([]byte{drip[i%len(drip)]}); err != nil {
					return time.Since(start), nil //nolint:nilerr // the gateway closed it: that is the outcome measured
				}
			}
		case err != nil: // EOF or reset: closed by the server
			if strings.HasPrefix(got.String(), "HTTP/1.1 2") {
				return 0, fmt.Errorf("the gateway answered an incomplete request: %q", got.String())
			}
			return time.Since(start), nil
		}
	}
	return 0, fmt.Errorf("still open after %v", limit)
}

// bombMiB is the decompressed size of zeroBomb.
const bombMiB = 60

// zeroBomb is 60 MiB of zeros, gzip-compressed: 60 gzip members of 1 MiB
// each (a gzip file is a series of members; readers, grpc-go's included,
// inflate them all), about 1 KiB each, so the whole bomb fits a new
// stream's 64 KiB flow-control window. Compressing one member and
// repeating it keeps the test fast under the race detector.
var zeroBomb = sync.OnceValue(func() []byte {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return bytes.Repeat(member.Bytes(), bombMiB)
})

// TestAbuseDecompressionBomb sends requests that are small on the wire and
// 60 MiB once decompressed, far over every route's limit.
func TestAbuseDecompressionBomb(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	bomb := zeroBomb()
	t.Logf("bomb: %d bytes of gzip, %d MiB of zeros", len(bomb), bombMiB)

	t.Run("gRPC", func(t *testing.T) {
		before := backendCalls(top, unaryCallMethod)
		// One bomb per connection (each fits the new connection's window).
		for i := range 8 {
			c := dialH2(t, top.gw.grpcAddr)
			s, err := c.track(grpcRequest(top.gw.grpcAddr, unaryCallMethod, hpack.HeaderField{Name: "grpc-encoding", Value: "gzip"}), grpcMessage(bomb, true))
			if err != nil {
				t.Fatalf("bomb %d: write: %v", i, err)
			}
			if !s.wait(10 * time.Second) {
				t.Fatalf("bomb %d: no answer within 10s", i)
			}
			// grpc-go stops inflating one byte past the server's receive
			// limit and refuses the message.
			code, msg := s.field("grpc-status"), s.field("grpc-message")
			if code != fmt.Sprint(int(codes.ResourceExhausted)) || !strings.Contains(msg, "after decompression larger than max") {
				t.Errorf("bomb %d: grpc-status %q (%q), RST %v, want %d (ResourceExhausted) \"… after decompression larger than max …\"", i, code, msg, s.reset(), codes.ResourceExhausted)
			}
			if i == 0 {
				t.Logf("bomb: grpc-status %s %q", code, msg)
			}
			c.close()
		}
		if n := backendCalls(top, unaryCallMethod) - before; n != 0 {
			t.Errorf("backend UnaryCall calls during the bombs = %d, want 0 (never forwarded)", n)
		}
	})

	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run("REST "+proto, func(t *testing.T) {
			c := restClient(t, proto == "HTTP/1.1")
			for i := range 4 {
				req, _ := http.NewRequestWithContext(timeout(t, 10*time.Second), http.MethodPost,
					"https://"+top.gw.httpAddr+"/v1/accounts/alice-checking/transfers", bytes.NewReader(bomb))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Content-Encoding", "gzip")
				code, body, err := restDo(c, req)
				if err != nil || code != http.StatusUnsupportedMediaType {
					t.Errorf("bomb %d: POST gzip body (%s) = %d %q, %v, want 415", i, proto, code, body, err)
				}
			}
		})
	}

	checkProbe(t, "decompression bomb", probe())
	checkAlive(t, top)
}

// TestAbuseOversizedMessages sends, 5 at a time, requests over the size
// limits and REST bodies with unknown fields while the well-behaved client
// calls: each must be refused with its code, and the others served.
func TestAbuseOversizedMessages(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	grpcClient := testpb.NewTestServiceClient(dial(t, top.gw.grpcAddr))
	web := restClient(t, false)
	transfers := "https://" + top.gw.httpAddr + "/v1/accounts/alice-checking/transfers"
	post := func(ctx context.Context, body string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, transfers, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return restDo(web, req)
	}
	tests := []struct {
		name string
		call func(ctx context.Context) error // nil when refused as wanted
	}{
		{"gRPC 2 MiB over the route's 1 MiB", func(ctx context.Context) error {
			_, err := grpcClient.UnaryCall(ctx, &testpb.SimpleRequest{Payload: payload(2 << 20)})
			if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "request message too large" {
				return fmt.Errorf("UnaryCall = %v, want ResourceExhausted %q", err, "request message too large")
			}
			return nil
		}},
		{"gRPC 5 MiB over the server's 4 MiB", func(ctx context.Context) error {
			_, err := grpcClient.UnaryCall(ctx, &testpb.SimpleRequest{Payload: payload(5 << 20)})
			if status.Code(err) != codes.ResourceExhausted {
				return fmt.Errorf("UnaryCall = %v, want ResourceExhausted", err)
			}
			return nil
		}},
		{"REST 5 MiB body over 4 MiB", func(ctx context.Context) error {
			code, body, err := post(ctx, `{"memo":"`+strings.Repeat("x", 5<<20)+`"}`)
			if err != nil || code != http.StatusRequestEntityTooLarge {
				return fmt.Errorf("POST 5 MiB = %d %.200q, %v, want 413", code, body, err)
			}
			return nil
		}},
		{"REST unknown JSON field", func(ctx context.Context) error {
			code, body, err := post(ctx, `{"amountCents": "1", "bogus": true}`)
			if err != nil || code != http.StatusBadRequest {
				return fmt.Errorf("POST unknown field = %d %.200q, %v, want 400", code, body, err)
			}
			return nil
		}},
	}
	before := backendCalls(top, unaryCallMethod)
	var wg sync.WaitGroup
	for _, tt := range tests {
		for i := range 5 {
			wg.Go(func() {
				if err := tt.call(timeout(t, 30*time.Second)); err != nil {
					t.Errorf("%s #%d: %v", tt.name, i, err)
				}
			})
		}
	}
	wg.Wait()
	if n := backendCalls(top, unaryCallMethod) - before; n != 0 {
		t.Errorf("backend UnaryCall calls = %d, want 0 (oversized requests are never forwarded)", n)
	}
	checkProbe(t, "oversized messages", probe())
	checkAlive(t, top)
}

// TestAbusePingAndSettingsFlood floods one connection with PING frames,
// another with SETTINGS frames. The gateway must refuse the ping flood
// (grpc-go's keepalive enforcement answers GOAWAY ENHANCE_YOUR_CALM
// "too_many_pings") and absorb the SETTINGS flood without queueing
// unbounded acknowledgements; other clients keep being served.
func TestAbusePingAndSettingsFlood(t *testing.T) {
	top := abuseEnv(t)
	probe := startProber(t, top)
	flood := func(c *h2Client, n int, frame func() error) (sent int) {
		start := time.Now()
		for sent < n && time.Since(start) < 10*time.Second && !c.isClosed() {
			if err := c.write(func() error {
				for range 100 {
					if err := frame(); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				break
			}
			sent += 100
		}
		return sent
	}

	pings := dialH2(t, top.gw.grpcAddr)
	sent := flood(pings, 20000, func() error { return pings.fr.WritePing(false, [8]byte{'f', 'l', 'o', 'o', 'd'}) })
	select {
	case <-pings.closed:
	case <-time.After(10 * time.Second):
	}
	_, _, ga := pings.stats()
	t.Logf("ping flood: %d PINGs written; GOAWAY %v; closed: %v", sent, ga, pings.isClosed())
	if ga == nil || ga.code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("ping flood: GOAWAY %v, want ENHANCE_YOUR_CALM (too_many_pings)", ga)
	}

	settings := dialH2(t, top.gw.grpcAddr)
	sent = flood(settings, 20000, func() error {
		return settings.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	})
	perr := settings.ping(30 * time.Second)
	_, _, ga = settings.stats()
	t.Logf("settings flood: %d SETTINGS written; PING after it: %v; GOAWAY %v; closed: %v", sent, perr, ga, settings.isClosed())
	if perr != nil && !settings.isClosed() && ga == nil {
		t.Errorf("settings flood: the connection is neither served nor closed: %v", perr)
	}
	checkProbe(t, "ping and settings flood", probe())
	checkAlive(t, top)
}
