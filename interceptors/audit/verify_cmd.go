package audit

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

// RunVerify is `portcullis audit verify [-json] FILE|DIR...`: it verifies
// the files as one chain (Verify) and prints the report, as text or JSON.
// It returns the exit status: 0 verified (torn final lines are listed but
// tolerated), 1 broken, 2 usage or read error.
func RunVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: portcullis audit verify [-json] FILE|DIR...")
		_, _ = fmt.Fprintln(stderr, "Verifies the hash chain of audit log segments, in the order given (a directory: its segments in order).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	r, err := Verify(fs.Args()...)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			_, _ = fmt.Fprintln(stderr, err)
			return 2
		}
	} else {
		writeReport(stdout, &r)
	}
	if !r.OK() {
		return 1
	}
	return 0
}

func writeReport(w io.Writer, r *Report) {
	for _, t := range r.Truncated {
		_, _ = fmt.Fprintf(w, "truncated: %s:%d: torn final line (crash during a write; tolerated)\n", t.File, t.Line)
	}
	if r.Broken != nil {
		_, _ = fmt.Fprintf(w, "BROKEN: %s\n", r.Broken)
		_, _ = fmt.Fprintf(w, "verified before the break: %d records in %d segments\n", r.Records, r.Segments)
		return
	}
	_, _ = fmt.Fprintf(w, "OK: %d records in %d segments (%d sealed), chain anchored at %s\n", r.Records, r.Segments, r.Sealed, r.Anchor)
}
