package audit_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
)

// writeLog writes n records to a new file log in dir and closes it.
func writeLog(t *testing.T, dir string, n int, opts ...audit.FileOption) {
	t.Helper()
	fs, err := audit.NewFileSink(dir, opts...)
	if err != nil {
		t.Fatalf("NewFileSink(%s) = %v, want nil", dir, err)
	}
	l, err := audit.New([]audit.Sink{fs}, audit.WithBatch(1, 0))
	if err != nil {
		t.Fatalf("New() = %v, want nil", err)
	}
	for i := range n {
		e := l.NewEvent()
		e.Time, e.RequestID, e.Method, e.Status.Code = t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("r%d", i+1), "/a.S/M", "OK"
		if err := l.Write(testContext(t), e); err != nil { // one batch per record, deterministic segments
			t.Fatalf("Write() = %v, want nil", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 40, audit.WithMaxBytes(2000), audit.WithSyncInterval(0))
	segs := segments(t, dir)
	if len(segs) < 3 {
		t.Fatalf("segments = %d, want at least 3 with 2000-byte segments", len(segs))
	}
	r, err := audit.Verify(dir)
	if err != nil || !r.OK() || r.Records != 40 || r.Segments != len(segs) || r.Sealed != len(segs) || r.Anchor != zeroHash {
		t.Fatalf("Verify(%s) = %+v, %v, want 40 records in %d sealed segments from the zero anchor", dir, r, err, len(segs))
	}
	for _, s := range segs {
		lines := readLines(t, s)
		last := decodeMap(t, string(lines[len(lines)-1]))
		if last["type"] != audit.TypeSeal || last["count"] != float64(len(lines)-1) {
			t.Errorf("last line of %s = %v, want a seal counting %d records", s, last, len(lines)-1)
		}
	}
	// Restarting continues the chain in a new segment.
	writeLog(t, dir, 2)
	r, err = audit.Verify(dir)
	if err != nil || !r.OK() || r.Records != 42 {
		t.Fatalf("Verify(%s) after a restart = %+v, %v, want 42 records", dir, r, err)
	}
}

// TestFileRecovery: a torn final line and an unsealed segment (a crash)
// are tolerated by Verify and repaired by the next NewFileSink.
func TestFileRecovery(t *testing.T) {
	dir := t.TempDir()
	fs, err := audit.NewFileSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, []audit.Sink{fs})
	for i := range 5 {
		e := l.NewEvent()
		e.RequestID = fmt.Sprintf("r%d", i)
		if err := l.Write(testContext(t), e); err != nil {
			t.Fatal(err)
		}
	}
	// The crash image: the segment as it is now, before Close seals it.
	crash := t.TempDir()
	data, err := os.ReadFile(fs.Path())
	if err != nil {
		t.Fatal(err)
	}
	const torn = `{"client_ip":"","duration_us":0,"has`
	seg := filepath.Join(crash, filepath.Base(fs.Path()))
	if err := os.WriteFile(seg, append(data, torn...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := audit.Verify(crash)
	if err != nil || !r.OK() || r.Records != 5 || r.Sealed != 0 || len(r.Truncated) != 1 || r.Truncated[0].Line != 6 {
		t.Fatalf("Verify(crash image) = %+v, %v, want 5 records and a tolerated torn line 6", r, err)
	}
	fs2, err := audit.NewFileSink(crash)
	if err != nil {
		t.Fatalf("NewFileSink(crash image) = %v, want nil", err)
	}
	if rec := fs2.Recovery(); rec.Path != seg || rec.TornBytes != len(torn) || !rec.Sealed {
		t.Errorf("Recovery() = %+v, want %s sealed with %d torn bytes cut", rec, seg, len(torn))
	}
	if err := fs2.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = audit.Verify(crash)
	if err != nil || !r.OK() || r.Records != 5 || r.Sealed != 2 || len(r.Truncated) != 0 {
		t.Fatalf("Verify(recovered) = %+v, %v, want 5 records, 2 sealed segments, nothing torn", r, err)
	}
	lines := readLines(t, seg)
	if seal := decodeMap(t, string(lines[len(lines)-1])); seal["recovered"] != true || seal["count"] != 5.0 {
		t.Errorf("recovered seal = %v, want recovered true and count 5", seal)
	}
	// An unreadable last record is not repaired automatically.
	if err := os.WriteFile(filepath.Join(crash, "audit-00000009.jsonl"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := audit.NewFileSink(crash); err == nil {
		_ = s.Close()
		t.Errorf("NewFileSink(unreadable last record) = nil error, want an error")
	}
}

// TestFileLoad: records == calls under bounded concurrent load through a
// real server into the file sink, and the log verifies.
func TestFileLoad(t *testing.T) {
	dir := t.TempDir()
	fs, err := audit.NewFileSink(dir, audit.WithMaxBytes(256<<10), audit.WithSyncInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, []audit.Sink{fs}, audit.WithQueueSize(256))
	srv := startServer(t, l)
	const workers, perWorker = 16, 50
	var wg sync.WaitGroup
	var failed sync.Map
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				c := grpctest.Calls()[i%4]
				ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", fmt.Sprintf("w%d-%d", w, i))
				if err := c.Invoke(ctx, srv.Client); err != nil {
					failed.Store(w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	failed.Range(func(k, v any) bool { t.Fatalf("worker %v: %v", k, v); return false })
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	r, err := audit.Verify(dir)
	if err != nil || !r.OK() || r.Records != workers*perWorker {
		t.Fatalf("Verify() = %+v, %v, want %d records", r, err, workers*perWorker)
	}
	ids := map[string]bool{}
	for e, err := range audit.ReadFiles(dir) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == audit.TypeCall {
			ids[e.RequestID] = true
		}
	}
	if len(ids) != workers*perWorker {
		t.Fatalf("distinct call records = %d, want %d", len(ids), workers*perWorker)
	}
}

// TestFileRecoveryEmptySegment: a crash right after a rotation leaves an
// empty newest segment; the next start seals it and the chain goes on.
func TestFileRecoveryEmptySegment(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 3)
	if err := os.WriteFile(filepath.Join(dir, "audit-00000002.jsonl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := audit.Verify(dir); err != nil || !r.OK() || r.Segments != 2 || r.Sealed != 1 {
		t.Fatalf("Verify(with an empty segment) = %+v, %v, want OK with 2 segments, 1 sealed", r, err)
	}
	writeLog(t, dir, 2)
	r, err := audit.Verify(dir)
	if err != nil || !r.OK() || r.Records != 5 || r.Segments != 3 || r.Sealed != 3 {
		t.Fatalf("Verify(after restart) = %+v, %v, want 5 records in 3 sealed segments", r, err)
	}
}
