package review

import (
	"context"
	"flag"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/postgres"
	"github.com/portcullis/portcullis/policy"
)

// Loader loads and validates the bundle file to review, and returns it
// with the registry of the compiled policy it was validated against. The
// command that wires RunReview provides it (loading bundles is the
// gateway's business).
type Loader func(path string) (*policy.Bundle, *policy.Registry, error)

// RunReview is `portcullis audit review --bundle BUNDLE [--since 720h]
// [--json] FILE|DIR... | --postgres DSN [--table T]`: it reads the log,
// reviews the bundle against it and prints the report (text, or JSON).
// It returns the exit status: 0 done, 2 usage or read error.
func RunReview(args []string, stdout, stderr io.Writer, load Loader) int {
	fs := flag.NewFlagSet("audit review", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bundlePath := fs.String("bundle", "", "policy bundle to review (required)")
	since := fs.Duration("since", 720*time.Hour, "review window, back from now")
	dsn := fs.String("postgres", "", "read the log from this PostgreSQL database instead of files")
	table := fs.String("table", postgres.DefaultTable, "PostgreSQL table of the log")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	nowFlag := fs.String("now", "", "end of the window, RFC 3339 (default: now; for reproducible reports)")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: portcullis audit review --bundle BUNDLE [--since 720h] [--json] FILE|DIR... | --postgres DSN [--table T]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bundlePath == "" || (*dsn == "") == (fs.NArg() == 0) || *since <= 0 {
		fs.Usage()
		return 2
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "audit review: --now: %v\n", err)
			return 2
		}
		now = t
	}
	b, reg, err := load(*bundlePath)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "audit review: %v\n", err)
		return 2
	}
	from := now.Add(-*since)
	var events iter.Seq2[*audit.Event, error]
	if *dsn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, *dsn)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "audit review: %v\n", err)
			return 2
		}
		defer func() { _ = conn.Close(context.Background()) }() // read-only session
		events = postgres.Read(ctx, conn, *table, from)
	} else {
		events = audit.ReadFiles(fs.Args()...)
	}
	r, err := Review(until(events, now), b, reg, from)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "audit review: %v\n", err)
		return 2
	}
	write := WriteText
	if *asJSON {
		write = WriteJSON
	}
	if err := write(stdout, r); err != nil {
		_, _ = fmt.Fprintf(stderr, "audit review: %v\n", err)
		return 2
	}
	return 0
}

// until drops the records after the window's end.
func until(events iter.Seq2[*audit.Event, error], end time.Time) iter.Seq2[*audit.Event, error] {
	return func(yield func(*audit.Event, error) bool) {
		for e, err := range events {
			if err == nil && e.Time.After(end) {
				continue
			}
			if !yield(e, err) {
				return
			}
		}
	}
}
