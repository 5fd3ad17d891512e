package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reason names how a chain is broken.
type Reason string

// Reasons of a Break.
const (
	// ReasonHashMismatch: the record's content does not match its hash
	// (it was modified).
	ReasonHashMismatch Reason = "hash mismatch"
	// ReasonBrokenLink: the record's prev_hash is not the previous
	// record's hash (a record before it was modified and re-hashed, or a
	// segment is missing or out of place).
	ReasonBrokenLink Reason = "broken link"
	// ReasonSeqGap: records are missing before this one (deleted).
	ReasonSeqGap Reason = "seq gap (deleted)"
	// ReasonOutOfOrder: the record is not where its seq says (reordered).
	ReasonOutOfOrder Reason = "out of order (reordered)"
	// ReasonBadSeal: a seal record disagrees with its segment, or records
	// follow it.
	ReasonBadSeal Reason = "bad seal"
	// ReasonMalformed: the line is not a well-formed canonical record.
	ReasonMalformed Reason = "malformed record"
)

// Position is a line of a log file (or a row of a table).
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Break is the first broken link of a chain.
type Break struct {
	Position
	// Seq is the record's seq as written (0 if unreadable).
	Seq    uint64 `json:"seq"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

// String formats b as "file:line: seq N: reason: detail".
func (b *Break) String() string {
	return fmt.Sprintf("%s:%d: seq %d: %s: %s", b.File, b.Line, b.Seq, b.Reason, b.Detail)
}

// Report is the result of Verify.
type Report struct {
	// Segments and Sealed count the segment files read and those sealed.
	Segments int `json:"segments"`
	Sealed   int `json:"sealed"`
	// Records counts the records verified, seals not included.
	Records int `json:"records"`
	// Anchor is the prev_hash of the first record read: 64 zeros when the
	// log starts at the very beginning, else the hash the oldest file
	// given continues from.
	Anchor string `json:"anchor"`
	// Truncated lists torn final lines of unsealed segments (a crash in
	// the middle of a write). They are tolerated: such a line was never
	// complete, so it was never synced.
	Truncated []Position `json:"truncated,omitempty"`
	// Broken is the first broken link, or nil when the chain verified.
	Broken *Break `json:"broken,omitempty"`
}

// OK reports whether the chain verified.
func (r *Report) OK() bool { return r.Broken == nil }

// Verify checks the hash chain of log files, in the order given, as one
// chain: a directory stands for its segment files in index order. It
// stops at the first broken link, which it reports in Report.Broken. The
// error is for files that cannot be read.
func Verify(paths ...string) (Report, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		segs, err := listSegments(p, "")
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		for _, s := range segs {
			files = append(files, s.path)
		}
	}
	v := verifier{}
	for _, f := range files {
		if err := v.file(f); err != nil {
			return v.r, err
		}
		if v.r.Broken != nil {
			break
		}
	}
	return v.r, nil
}

type verifier struct {
	r       Report
	started bool
	prev    [32]byte // hash of the last record read
}

// maxLine bounds one record line (a request rendering is at most 16 KiB
// by default).
const maxLine = 16 << 20

func (v *verifier) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	v.r.Segments++
	rd := bufio.NewReaderSize(f, 1<<16)
	var expect, count uint64 = 1, 0
	sealed := false
	brk := func(line int, seq uint64, why Reason, format string, args ...any) {
		v.r.Broken = &Break{Position: Position{File: path, Line: line}, Seq: seq, Reason: why, Detail: fmt.Sprintf(format, args...)}
	}
	for n := 1; n <= maxLinesPerFile; n++ {
		line, err := readLine(rd)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLongLine) {
			return fmt.Errorf("audit: verify %s: %w", path, err)
		}
		torn := errors.Is(err, io.EOF) // no final newline
		if sealed {
			brk(n, 0, ReasonBadSeal, "line after the seal")
			return nil
		}
		if torn {
			v.r.Truncated = append(v.r.Truncated, Position{File: path, Line: n})
			return nil
		}
		l, perr := ParseLink(line)
		switch {
		case errors.Is(err, errLongLine):
			brk(n, 0, ReasonMalformed, "line longer than %d bytes", maxLine)
		case perr != nil:
			brk(n, 0, ReasonMalformed, "%v", perr)
		case !l.Valid:
			brk(n, l.Seq, ReasonHashMismatch, "content does not match hash %x", l.Hash[:6])
		case !l.Canonical:
			brk(n, l.Seq, ReasonMalformed, "not in canonical form (edited)")
		case l.Seq > expect:
			if seqLater(rd, expect) {
				brk(n, l.Seq, ReasonOutOfOrder, "expected seq %d, which comes later", expect)
			} else {
				brk(n, l.Seq, ReasonSeqGap, "expected seq %d: %d record(s) missing", expect, l.Seq-expect)
			}
		case l.Seq < expect:
			brk(n, l.Seq, ReasonOutOfOrder, "expected seq %d", expect)
		case !v.started:
			v.r.Anchor = hex.EncodeToString(l.Prev[:])
		case l.Prev != v.prev && n == 1:
			brk(n, l.Seq, ReasonBrokenLink, "segment does not continue the previous one (a segment is missing or out of place)")
		case l.Prev != v.prev:
			brk(n, l.Seq, ReasonBrokenLink, "prev_hash does not match the previous record (modified and re-hashed?)")
		}
		if v.r.Broken != nil {
			return nil
		}
		if l.Type == TypeSeal {
			if l.Count != count || l.LastHash != v.prev {
				brk(n, l.Seq, ReasonBadSeal, "seal says %d records ending in %x, segment has %d ending in %x",
					l.Count, l.LastHash[:6], count, v.prev[:6])
				return nil
			}
			sealed = true
			v.r.Sealed++
		} else {
			count++
			v.r.Records++
		}
		v.started, v.prev = true, l.Hash
		expect++
	}
	return fmt.Errorf("audit: verify %s: more than %d lines", path, maxLinesPerFile)
}

const maxLinesPerFile = 1 << 30

var errLongLine = errors.New("line too long")

// readLine returns the next line without its newline; io.EOF with a
// non-empty line means the file ends without one.
func readLine(rd *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		part, err := rd.ReadSlice('\n')
		buf = append(buf, part...)
		if len(buf) > maxLine {
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of it
				_, err = rd.ReadSlice('\n')
			}
			return buf[:0], errLongLine
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(buf, []byte{'\n'}), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

// seqLater reports whether a later line of the file has the given seq.
func seqLater(rd *bufio.Reader, seq uint64) bool {
	for range maxLinesPerFile {
		line, err := readLine(rd)
		if len(line) > 0 {
			if l, perr := ParseLink(line); perr == nil && l.Seq == seq {
				return true
			}
		}
		if err != nil && !errors.Is(err, errLongLine) {
			return false
		}
	}
	return false
}
