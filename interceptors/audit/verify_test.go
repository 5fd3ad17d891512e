package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/interceptors/audit"
)

// rehash recomputes a record's hash after an edit, with prev as its
// prev_hash: what a careful forger would do.
func rehash(t *testing.T, line []byte, edit func(map[string]any), prev string) []byte {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	m["prev_hash"] = prev
	delete(m, "hash")
	body, _ := json.Marshal(m)
	canon, err := audit.Canonical(body)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := hex.DecodeString(prev)
	sum := sha256.Sum256(append(p, canon...))
	m["hash"] = hex.EncodeToString(sum[:])
	body, _ = json.Marshal(m)
	out, _ := audit.Canonical(body)
	return append(out, '\n')
}

func hashOf(t *testing.T, line []byte) string {
	t.Helper()
	l, err := audit.ParseLink(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(l.Hash[:])
}

// TestVerifyTampering builds a three-segment log, changes it one way per
// case and checks that Verify names the exact first broken link.
func TestVerifyTampering(t *testing.T) {
	src := t.TempDir()
	writeLog(t, src, 30, audit.WithMaxBytes(3000))
	segs := segments(t, src)
	if len(segs) < 3 {
		t.Fatalf("segments = %d, want at least 3", len(segs))
	}
	seg1 := filepath.Base(segs[0])
	n1 := len(readLines(t, segs[0])) // records + seal

	type mutate func(t *testing.T, lines [][]byte) [][]byte
	for _, tc := range []struct {
		name   string
		mutate mutate   // applied to the first segment
		files  []string // which segments to verify (indexes); nil: all
		want   *audit.Break
		torn   bool
	}{
		{name: "intact"},
		{name: "modified field", mutate: func(t *testing.T, l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`"request_id":"r5"`), []byte(`"request_id":"rX"`), 1)
			return l
		}, want: brk(seg1, 5, 5, audit.ReasonHashMismatch)},
		{name: "deleted record", mutate: func(t *testing.T, l [][]byte) [][]byte {
			return append(l[:4:4], l[5:]...)
		}, want: brk(seg1, 5, 6, audit.ReasonSeqGap)},
		{name: "deleted first record", mutate: func(t *testing.T, l [][]byte) [][]byte { return l[1:] },
			want: brk(seg1, 1, 2, audit.ReasonSeqGap)},
		{name: "reordered records", mutate: func(t *testing.T, l [][]byte) [][]byte {
			l[4], l[5] = l[5], l[4]
			return l
		}, want: brk(seg1, 5, 6, audit.ReasonOutOfOrder)},
		{name: "modified and re-hashed", mutate: func(t *testing.T, l [][]byte) [][]byte {
			prev := decodeMap(t, string(l[4]))["prev_hash"].(string)
			l[4] = rehash(t, l[4], func(m map[string]any) { m["request_id"] = "forged" }, prev)
			return l
		}, want: brk(seg1, 6, 6, audit.ReasonBrokenLink)},
		{name: "last record deleted, seal re-hashed", mutate: func(t *testing.T, l [][]byte) [][]byte {
			seal := l[len(l)-1]
			l = l[:len(l)-2]
			fixed := rehash(t, seal, func(m map[string]any) { m["seq"] = json.Number(itoa(len(l) + 1)) }, hashOf(t, l[len(l)-1]))
			return append(l, fixed)
		}, want: brk(seg1, n1-1, uint64(n1-1), audit.ReasonBadSeal)},
		{name: "record after the seal", mutate: func(t *testing.T, l [][]byte) [][]byte { return append(l, l[0]) },
			want: brk(seg1, n1+1, 0, audit.ReasonBadSeal)},
		{name: "not canonical", mutate: func(t *testing.T, l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`{"`), []byte(`{ "`), 1)
			return l
		}, want: brk(seg1, 3, 3, audit.ReasonMalformed)},
		{name: "duplicate key in front", mutate: func(t *testing.T, l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`{"`), []byte(`{"method":"/forged","`), 1)
			return l
		}, want: brk(seg1, 3, 3, audit.ReasonMalformed)},
		{name: "garbage line", mutate: func(t *testing.T, l [][]byte) [][]byte {
			l[3] = []byte("garbage\n")
			return l
		}, want: brk(seg1, 4, 0, audit.ReasonMalformed)},
		{name: "missing segment", files: []string{"0", "2"}, want: brk(filepath.Base(segs[2]), 1, 1, audit.ReasonBrokenLink)},
		{name: "segments swapped", files: []string{"1", "0"}, want: brk(seg1, 1, 1, audit.ReasonBrokenLink)},
		{name: "torn final line of an unsealed segment", torn: true, files: []string{"0"}, mutate: func(t *testing.T, l [][]byte) [][]byte {
			return append(l[:len(l)-1], l[len(l)-1][:20]) // the seal half written
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for i, s := range segs {
				lines := readLines(t, s)
				if i == 0 && tc.mutate != nil {
					lines = tc.mutate(t, lines)
				}
				p := filepath.Join(dir, filepath.Base(s))
				if err := os.WriteFile(p, bytes.Join(lines, nil), 0o600); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			args := []string{dir}
			if tc.files != nil {
				args = nil
				for _, f := range tc.files {
					args = append(args, paths[int(f[0]-'0')])
				}
			}
			r, err := audit.Verify(args...)
			if err != nil {
				t.Fatalf("Verify() = %v, want nil", err)
			}
			if tc.torn != (len(r.Truncated) == 1) {
				t.Errorf("Verify().Truncated = %v, want torn=%v", r.Truncated, tc.torn)
			}
			got := r.Broken
			if got != nil {
				got = brk(filepath.Base(got.File), got.Line, got.Seq, got.Reason)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("Verify(%s).Broken = %v (%v), want %v", tc.name, got, r.Broken, tc.want)
			}
		})
	}
}

func brk(file string, line int, seq uint64, reason audit.Reason) *audit.Break {
	return &audit.Break{Position: audit.Position{File: file, Line: line}, Seq: seq, Reason: reason}
}

func TestRunVerify(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 3)
	broken := t.TempDir()
	seg := segments(t, dir)[0]
	lines := readLines(t, seg)
	lines[1] = bytes.Replace(lines[1], []byte(`"r2"`), []byte(`"r9"`), 1)
	if err := os.WriteFile(filepath.Join(broken, filepath.Base(seg)), bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{args: []string{dir}, code: 0, out: "OK: 3 records in 1 segments (1 sealed)"},
		{args: []string{"-json", dir}, code: 0, out: `"records": 3`},
		{args: []string{broken}, code: 1, out: "BROKEN: " + filepath.Join(broken, filepath.Base(seg)) + ":2: seq 2: hash mismatch"},
		{args: nil, code: 2},
		{args: []string{filepath.Join(dir, "missing")}, code: 2},
		{args: []string{"-nope"}, code: 2},
	} {
		var stdout, stderr strings.Builder
		if code := audit.RunVerify(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stdout.String(), tc.out) {
			t.Errorf("RunVerify(%q) = %d, %q (stderr %q), want %d and output containing %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.out)
		}
	}
}

// TestSchemaCopies: the package's copy of the record schema is the
// published one (docs/audit-record.v1.json).
func TestSchemaCopies(t *testing.T) {
	pkg, err1 := os.ReadFile("schema/audit-record.v1.json")
	docs, err2 := os.ReadFile("../../docs/audit-record.v1.json")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !bytes.Equal(pkg, docs) {
		t.Error("interceptors/audit/schema/audit-record.v1.json differs from docs/audit-record.v1.json")
	}
}
