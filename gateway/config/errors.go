package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// maxErrors bounds how many problems one Load or Parse reports.
const maxErrors = 20

// Error is one problem in a configuration. Load, Parse and Validate return
// one *Error, or several joined with errors.Join, each printed on its own line
// as "config: FILE:LINE: PATH: PROBLEM".
type Error struct {
	// File is the name given to Load or Parse; empty for a Config built in Go.
	File string
	// Line is the 1-based line of the key (or of its nearest enclosing key
	// when the key is missing); 0 if unknown.
	Line int
	// Path is the key path, such as "routes[0].timeout"; empty for syntax
	// errors and problems with the document as a whole.
	Path string
	// Err is the problem itself.
	Err error
}

// Error formats the problem as "config: FILE:LINE: PATH: PROBLEM".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(printable(e.Path) + ": ")
	}
	b.WriteString(printable(e.Err.Error()))
	return b.String()
}

// printable returns s, or s quoted when it holds a character that is not
// printable (a key written as a YAML block scalar can hold a newline), so
// that every problem stays on its own line of the joined error.
func printable(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// errorList collects problems in the order found.
type errorList struct {
	file string
	errs []error
	more int
}

func (l *errorList) add(line int, path, format string, args ...any) {
	if len(l.errs) == maxErrors {
		l.more++
		return
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Err: fmt.Errorf(format, args...)})
}

// err returns the problems in document order (problems without a line,
// which concern the whole document, first).
func (l *errorList) err() error {
	slices.SortStableFunc(l.errs, func(a, b error) int {
		return a.(*Error).Line - b.(*Error).Line
	})
	if l.more > 0 {
		l.errs = append(l.errs, &Error{File: l.file, Err: fmt.Errorf("%d more problems not shown", l.more)})
	}
	return errors.Join(l.errs...)
}

// join appends a key to a path: join("listeners", "grpc") is
// "listeners.grpc".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends a list index to a path: index("routes", 0) is "routes[0]".
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parent strips the last element of a path: "routes[0].tls" → "routes[0]"
// → "routes" → "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// suggest returns the known key closest to key if it is a likely typo.
func suggest(key string, known []string) string {
	best, bestDist := "", 3 // at most two edits
	for _, k := range known {
		if d := distance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // not a typo; also bounds the work on hostile input
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
