package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"io"
	"testing"

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
	r := mem.BufferSlice{mem.SliceBuffer(z)}.Reader()
	out, err := (&requestGzip{max: 512 << 20}).Do(r)
	if err != nil || len(out) != 1 || &out[0] != &expandedMessage[0] {
		t.Fatalf("Do(256 MiB of zeros) = %d bytes, %v, want expandedMessage", len(out), err)
	}
	if left := r.Remaining(); left < len(z)/2 {
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
