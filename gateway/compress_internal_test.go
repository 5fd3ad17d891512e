package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"runtime"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/portcullis/portcullis/gateway/proxy"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// plainReader hides every method but Read, such as the Remaining that
// tells Do the compressed length.
type plainReader struct{ r io.Reader }

func (p *plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// TestRequestGzip: requestGzip inflates what grpc-go's gzip would, stops
// one byte past the receive limit, and answers expandedMessage as soon as
// the output crosses the ratio, whichever reader it is given (grpc-go's,
// which knows the compressed length, or one that does not).
func TestRequestGzip(t *testing.T) {
	random := make([]byte, 3<<19)
	_, _ = rand.Read(random)
	text := []byte(hex.EncodeToString(random)) // 3 MiB; compresses about 2:1
	zeros := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name     string
		max      int
		in       []byte
		expanded bool
		wantLen  int // when not expanded
	}{
		{"empty", 4 << 20, nil, false, 0},
		{"small", 4 << 20, []byte("hello, gateway"), false, 14},
		{"text, 3 MiB", 4 << 20, text, false, 3 << 20},
		{"zeros, at the floor", 4 << 20, zeros(expansionFloor), false, expansionFloor},
		{"zeros, 2 MiB", 4 << 20, zeros(2 << 20), true, 0},
		{"text over max", 1 << 20, text, false, 1<<20 + 1},
		{"zeros over max, under the floor", 512 << 10, zeros(1 << 20), false, 512<<10 + 1},
	}
	for _, tt := range tests {
		for _, plain := range []bool{false, true} {
			name := tt.name
			if plain {
				name += ", plain reader"
			}
			t.Run(name, func(t *testing.T) {
				d := &requestGzip{max: tt.max}
				z := gzipped(t, tt.in)
				for range 2 { // the second time with a pooled reader
					var r io.Reader
					if plain {
						r = &plainReader{r: bytes.NewReader(z)}
					} else {
						r = mem.BufferSlice{mem.SliceBuffer(z)}.Reader()
					}
					out, err := d.Do(r)
					if err != nil {
						t.Fatalf("Do() error = %v", err)
					}
					if got := len(out) == 1 && &out[0] == &expandedMessage[0]; got != tt.expanded {
						t.Fatalf("Do() expanded = %v, want %v", got, tt.expanded)
					}
					if tt.expanded {
						continue
					}
					if len(out) != tt.wantLen {
						t.Fatalf("Do() = %d bytes, want %d", len(out), tt.wantLen)
					}
					if n := min(len(tt.in), len(out)); !bytes.Equal(out[:n], tt.in[:n]) {
						t.Fatal("Do() output differs from the input")
					}
				}
			})
		}
	}
}

// TestRequestGzipStopsAtRatio: a bomb far over the ratio is not inflated
// to the receive limit: Do stops where the output crosses the ratio.
func TestRequestGzipStopsAtRatio(t *testing.T) {
	z := gzipped(t, make([]byte, 256<<20)) // about 250 KiB
	r := &closingReader{Reader: bytes.NewReader(z)}
	out, err := (&requestGzip{max: 512 << 20}).Do(r)
	if err != nil || len(out) != 1 || &out[0] != &expandedMessage[0] {
		t.Fatalf("Do(256 MiB of zeros) = %d bytes, %v, want expandedMessage", len(out), err)
	}
	if left := r.Len(); left < len(z)/2 {
		t.Errorf("Do read %d of %d compressed bytes, want it to stop early", len(z)-left, len(z))
	}
}

func TestRequestGzipCorrupt(t *testing.T) {
	d := &requestGzip{max: 4 << 20}
	z := gzipped(t, []byte("a message that will be cut short"))
	for name, in := range map[string][]byte{"not gzip": []byte("plain text"), "truncated": z[:len(z)-6], "empty": nil} {
		if out, err := d.Do(bytes.NewReader(in)); err == nil {
			t.Errorf("Do(%s) = %q, nil, want an error", name, out)
		}
	}
}

// TestOverExpandedIsTheMarker: a client cannot forge the marker: a message
// with its content is an ordinary message.
func TestOverExpandedIsTheMarker(t *testing.T) {
	if !overExpanded(proxy.NewFrame(expandedMessage)) {
		t.Error("overExpanded(expandedMessage) = false, want true")
	}
	for _, b := range [][]byte{{0}, nil, {0, 0}} {
		if overExpanded(proxy.NewFrame(b)) {
			t.Errorf("overExpanded(%v) = true, want false", b)
		}
	}
}

// closingReader is grpc-go's reader as Do sees it: it knows its length and
// is closed to release the message's buffers.
type closingReader struct {
	*bytes.Reader
	closed bool
}

func (c *closingReader) Remaining() int { return c.Len() }
func (c *closingReader) Close() error   { c.closed = true; return nil }

// TestRequestGzipReleasesOnRefusal: stopping at the ratio, Do closes the
// reader itself (grpc-go releases the compressed buffers only on its own
// error paths, not for a message it is handed back).
func TestRequestGzipReleasesOnRefusal(t *testing.T) {
	r := &closingReader{Reader: bytes.NewReader(gzipped(t, make([]byte, 8<<20)))}
	if out, err := (&requestGzip{max: 16 << 20}).Do(r); err != nil || len(out) != 1 || &out[0] != &expandedMessage[0] {
		t.Fatalf("Do(8 MiB of zeros) = %d bytes, %v, want expandedMessage", len(out), err)
	}
	if !r.closed {
		t.Error("reader not closed after the refusal: its buffers never return to grpc-go's pool")
	}
}

// TestRequestGzipAllocation: inflating allocates about twice the output
// at most (the buffer doubles), not a copy per small growth step.
func TestRequestGzipAllocation(t *testing.T) {
	random := make([]byte, 4<<20)
	_, _ = rand.Read(random)
	text := []byte(hex.EncodeToString(random)) // 8 MiB, ratio about 2
	z := gzipped(t, text)
	d := &requestGzip{max: 16 << 20}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := d.Do(mem.BufferSlice{mem.SliceBuffer(z)}.Reader())
	runtime.ReadMemStats(&after)
	if err != nil || len(out) != len(text) {
		t.Fatalf("Do() = %d bytes, %v", len(out), err)
	}
	// The gzip reader's own state (first use) is well under 1 MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(3*len(text)) {
		t.Errorf("Do allocated %d MiB for %d MiB of output, want at most 3x", got>>20, len(text)>>20)
	}
}

// plainStream is a ServerStream whose RecvMsg delivers one frame.
type plainStream struct {
	grpc.ServerStream
	data []byte
}

func (s *plainStream) Context() context.Context { return context.Background() }
func (s *plainStream) RecvMsg(m any) error {
	*m.(*proxy.Frame) = *proxy.NewFrame(s.data)
	return nil
}

// TestLimitStreamRefusesExpandedWithoutLimit: a route without a message
// limit (possible for a Gateway built in code) still refuses a message
// over the expansion ratio instead of forwarding the marker.
func TestLimitStreamRefusesExpandedWithoutLimit(t *testing.T) {
	routes := map[string]*Route{"pkg.Svc": {Service: "pkg.Svc"}}
	var got error
	h := func(_ any, ss grpc.ServerStream) error {
		got = ss.RecvMsg(&proxy.Frame{})
		return got
	}
	info := &grpc.StreamServerInfo{FullMethod: "/pkg.Svc/M"}
	_ = limitStream(routes)(nil, &plainStream{data: expandedMessage}, info, h)
	if got != errExpanded {
		t.Errorf("RecvMsg(marker) through a route without a limit = %v, want errExpanded", got)
	}
	_ = limitStream(routes)(nil, &plainStream{data: []byte{0}}, info, h)
	if got != nil {
		t.Errorf("RecvMsg(an ordinary 1-byte message) = %v, want nil", got)
	}
}
