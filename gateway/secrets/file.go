package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxFileBytes caps a secret file: keys and passwords are small, and a
// reference to a huge file (or /dev/zero) must not exhaust memory.
const maxFileBytes = 1 << 20

// ReadFile reads a secret file the way file: references are read, and is
// what other packages use for key files. It refuses, with an error naming
// path (never its content):
//   - a file that group or others may read, write or execute (any of mode
//     bits 0o077), with a message saying "chmod 600 PATH";
//   - anything but a regular file (a directory, device, FIFO, socket);
//   - a file larger than 1 MiB.
//
// A symbolic link (as in Kubernetes secret volumes, whose defaultMode must
// then be 0400 or 0600) is followed and the file it finally names is
// checked. The checks are made on the opened file itself, so that swapping
// the file between check and read does not get an unchecked file read.
func ReadFile(path string) ([]byte, error) {
	target := path
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: file %s: %w", path, unwrapPath(err))
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return nil, fmt.Errorf("secrets: file %s: %w", path, unwrapPath(err))
		}
		if fi, err = os.Lstat(target); err != nil {
			return nil, fmt.Errorf("secrets: file %s (-> %s): %w", path, target, unwrapPath(err))
		}
	}
	if err := checkMode(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(target)
	if err != nil {
		return nil, fmt.Errorf("secrets: file %s: %w", path, unwrapPath(err))
	}
	defer func() { _ = f.Close() }() // read-only
	ofi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: file %s: %w", path, unwrapPath(err))
	}
	if !os.SameFile(fi, ofi) {
		return nil, fmt.Errorf("secrets: file %s: replaced while being opened; try again", path)
	}
	if err := checkMode(path, ofi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("secrets: file %s: %w", path, unwrapPath(err))
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("secrets: file %s: larger than %d bytes", path, maxFileBytes)
	}
	return b, nil
}

func checkMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("secrets: file %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secrets: file %s: mode %04o lets group or others access it; run: chmod 600 %s", path, perm, path)
	}
	return nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path the message
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// fileValue is the value of a file: reference: the file's content without
// one trailing newline ("\n" or "\r\n"), which editors and `echo` add.
func fileValue(path string) (string, error) {
	b, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}
