package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
)

// DecodeEvent decodes one record. It fails for other schema versions.
func DecodeEvent(data []byte) (*Event, error) {
	e := &Event{}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("audit: decode record: %w", err)
	}
	if e.Version != SchemaVersion {
		return nil, fmt.Errorf("audit: record schema version %d, want %d", e.Version, SchemaVersion)
	}
	return e, nil
}

// ReadFiles yields the records of log files in order (a directory: its
// segments in index order), gap and seal records included. It does not
// verify the chain (see Verify) and skips a torn final line. At the first
// error it yields (nil, err) and stops.
func ReadFiles(paths ...string) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for _, p := range paths {
			files := []string{p}
			if st, err := os.Stat(p); err != nil {
				yield(nil, fmt.Errorf("audit: read: %w", err))
				return
			} else if st.IsDir() {
				segs, err := listSegments(p, "")
				if err != nil {
					yield(nil, fmt.Errorf("audit: read: %w", err))
					return
				}
				files = files[:0]
				for _, s := range segs {
					files = append(files, s.path)
				}
			}
			for _, f := range files {
				if !readFile(f, yield) {
					return
				}
			}
		}
	}
}

// readFile yields one file's records and reports whether to go on.
func readFile(path string, yield func(*Event, error) bool) bool {
	f, err := os.Open(path)
	if err != nil {
		yield(nil, fmt.Errorf("audit: read: %w", err))
		return false
	}
	defer func() { _ = f.Close() }() // read-only
	rd := bufio.NewReaderSize(f, 1<<16)
	for n := 1; n <= maxLinesPerFile; n++ {
		line, err := readLine(rd)
		if errors.Is(err, io.EOF) {
			return true // end, or a torn final line
		}
		if err != nil {
			yield(nil, fmt.Errorf("audit: read %s:%d: %w", path, n, err))
			return false
		}
		e, err := DecodeEvent(line)
		if err != nil {
			yield(nil, fmt.Errorf("audit: read %s:%d: %w", path, n, err))
			return false
		}
		if !yield(e, nil) {
			return false
		}
	}
	return true
}
