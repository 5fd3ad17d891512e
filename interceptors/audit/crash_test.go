package audit_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/audit"
)

// crashChildEnv makes the test binary run crashChild (see TestMain): it
// writes records to the directory named by the variable until killed.
const crashChildEnv = "PORTCULLIS_AUDIT_CRASH_DIR"

// crashChild writes records from four goroutines, one in eight with
// Logger.Write (synced before it returns), and prints "acked <id>" for
// each of those. It stops by itself after 30 seconds or 10^6 records per
// goroutine.
func crashChild(dir string) int {
	fs, err := audit.NewFileSink(dir, audit.WithSyncInterval(2*time.Millisecond), audit.WithMaxBytes(64<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	l, err := audit.New([]audit.Sink{fs}, audit.WithQueueSize(1024))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 1_000_000 && time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				e := l.NewEvent()
				e.Time, e.Method, e.RequestID, e.Transport, e.Status.Code = time.Now(), "/crash.S/M", id, "grpc", "OK"
				if i%8 != 0 {
					l.Log(e)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := l.Write(ctx, e)
				cancel()
				if err == nil {
					fmt.Fprintf(os.Stdout, "acked %s\n", id)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// TestCrashKill9 kills a writing process with SIGKILL in the middle of its
// load; the log must verify, contain every record that was acknowledged
// as synced, and recover on the next start.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	killer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer killer.Stop()
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		acked[strings.TrimPrefix(sc.Text(), "acked ")] = true
		if len(acked) >= 400 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	for sc.Scan() { // acks printed before the kill count too
		acked[strings.TrimPrefix(sc.Text(), "acked ")] = true
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	if len(acked) < 400 {
		t.Fatalf("child acknowledged %d records before the kill, want at least 400", len(acked))
	}

	r, err := audit.Verify(dir)
	if err != nil || !r.OK() {
		t.Fatalf("Verify(%s) after kill -9 = %+v, %v, want a verified chain", dir, r.Broken, err)
	}
	seen := map[string]bool{}
	for e, err := range audit.ReadFiles(dir) {
		if err != nil {
			t.Fatalf("ReadFiles(%s) = %v, want nil", dir, err)
		}
		seen[e.RequestID] = true
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged record %s is not in the log", id)
		}
	}
	t.Logf("kill -9: %d records verified in %d segments (%d sealed), %d acknowledged, %d torn lines",
		r.Records, r.Segments, r.Sealed, len(acked), len(r.Truncated))

	// The next start seals the crashed segment and continues the chain.
	fs, err := audit.NewFileSink(dir)
	if err != nil {
		t.Fatalf("NewFileSink(%s) after kill -9 = %v, want nil", dir, err)
	}
	if rec := fs.Recovery(); !rec.Sealed && r.Sealed != r.Segments {
		t.Errorf("Recovery() = %+v, want the crashed segment sealed", rec)
	}
	l := newLogger(t, []audit.Sink{fs})
	e := l.NewEvent()
	e.Method, e.RequestID = "/crash.S/After", "after"
	if err := l.Write(testContext(t), e); err != nil {
		t.Fatalf("Write() after recovery = %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	r2, err := audit.Verify(dir)
	if err != nil || !r2.OK() || len(r2.Truncated) != 0 || r2.Sealed != r2.Segments || r2.Records != r.Records+1 {
		t.Fatalf("Verify(%s) after recovery = %+v, %v, want %d records, every segment sealed, none torn", dir, r2, err, r.Records+1)
	}
}
