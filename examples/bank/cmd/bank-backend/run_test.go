package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun starts the backend on a free loopback port, watches a ticking
// account, and checks that ending the context stops it cleanly even with
// the watch still open.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	defer pr.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, slog.New(slog.NewJSONHandler(pw, nil)), []string{"--listen", "127.0.0.1:0", "--tick", "10ms"})
		_ = pw.Close()
	}()

	// The first log record says where it serves; drain the rest so logging
	// never blocks on the pipe.
	lines := bufio.NewScanner(pr)
	var first struct{ Msg, Addr string }
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &first) != nil || first.Msg != "serving" {
		t.Fatalf("first log line = %q, want a serving record", lines.Text())
	}
	go func() {
		for lines.Scan() {
		}
	}()

	conn, err := grpc.NewClient(first.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%q) = %v, want nil", first.Addr, err)
	}
	defer conn.Close()
	client := bankv1.NewBankServiceClient(conn)
	if resp, err := client.Ping(ctx, &bankv1.PingRequest{}); err != nil || resp.GetStatus() != "ok" {
		t.Fatalf("Ping() = %v, %v, want ok", resp, err)
	}
	stream, err := client.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: "accounts/alice-checking"})
	if err != nil {
		t.Fatalf("WatchTransactions() = %v, want nil", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("WatchTransactions().Recv() = %v, want a ticked transaction", err)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() = %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("run() did not return after its context ended")
	}
}
