package audit

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// segment is one segment file of a directory.
type segment struct {
	path   string
	prefix string
	index  int
}

// listSegments returns dir's files named <prefix><digits>.jsonl, by prefix
// and index; prefix "" matches any prefix.
func listSegments(dir, prefix string) ([]segment, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []segment
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".jsonl")
		if !ok || !de.Type().IsRegular() {
			continue
		}
		i := len(name)
		for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
			i--
		}
		if i == len(name) || (prefix != "" && name[:i] != prefix) {
			continue
		}
		n, err := strconv.Atoi(name[i:])
		if err != nil {
			continue
		}
		out = append(out, segment{path: filepath.Join(dir, de.Name()), prefix: name[:i], index: n})
	}
	slices.SortFunc(out, func(a, b segment) int {
		return cmp.Or(cmp.Compare(a.prefix, b.prefix), cmp.Compare(a.index, b.index))
	})
	return out, nil
}

// recover finds where the chain of the directory ends, sealing the newest
// segment if a crash left it open. Empty segments at the end (a crash
// right after one was created) are sealed too, with count 0, so that every
// segment but the one being written is sealed.
func (s *FileSink) recover() error {
	segs, err := listSegments(s.dir, s.o.prefix)
	if err != nil {
		return fmt.Errorf("audit: file sink: %w", err)
	}
	if len(segs) > 0 {
		s.index = segs[len(segs)-1].index
	}
	var empty []string
	for i := len(segs) - 1; i >= 0; i-- {
		done, err := s.recoverSegment(segs[i].path)
		if err != nil {
			return err
		}
		if done {
			break
		}
		empty = append(empty, segs[i].path)
	}
	for i := len(empty) - 1; i >= 0; i-- {
		if err := s.sealEmpty(empty[i]); err != nil {
			return err
		}
	}
	return nil
}

// sealEmpty seals an empty segment, continuing the chain.
func (s *FileSink) sealEmpty(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("audit: recover %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // synced below; Close adds nothing
	c := Chain{Prev: s.chain.Prev}
	if _, err := f.Write(sealLine(&c, 0, s.o.now(), true)); err != nil {
		return fmt.Errorf("audit: recover %s: seal: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit: recover %s: seal: %w", path, err)
	}
	s.chain = c
	s.recovery.Path, s.recovery.Sealed = path, true
	return nil
}

// recoverSegment sets s.chain from the segment at path and reports
// whether it held any record.
func (s *FileSink) recoverSegment(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("audit: recover %s: %w", path, err)
	}
	whole := bytes.LastIndexByte(data, '\n') + 1
	if whole < len(data) {
		// A torn final line: never complete, so never synced or waited for.
		if err := os.Truncate(path, int64(whole)); err != nil {
			return false, fmt.Errorf("audit: recover %s: cut torn line: %w", path, err)
		}
		s.recovery = Recovery{Path: path, TornBytes: len(data) - whole}
	}
	lines := data[:whole]
	if len(lines) == 0 {
		return false, nil
	}
	last := lines[:len(lines)-1]
	last = last[bytes.LastIndexByte(last, '\n')+1:]
	l, err := ParseLink(last)
	if err != nil {
		return false, fmt.Errorf("audit: recover %s: last record unreadable (move the file away to start a new chain): %w", path, err)
	}
	s.chain = Chain{Seq: l.Seq, Prev: l.Hash}
	if l.Type == TypeSeal {
		return true, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return false, fmt.Errorf("audit: recover %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // synced below; Close adds nothing
	c := s.chain
	if _, err := f.Write(sealLine(&c, l.Seq, s.o.now(), true)); err != nil {
		return false, fmt.Errorf("audit: recover %s: seal: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("audit: recover %s: seal: %w", path, err)
	}
	s.chain = c
	s.recovery.Path, s.recovery.Sealed = path, true
	return true, nil
}
