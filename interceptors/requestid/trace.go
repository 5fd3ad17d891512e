package requestid

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"

	"github.com/portcullis/portcullis/policy"
)

const (
	maxRequestIDLen  = 128
	traceParentLen   = 55 // "00-" 32 "-" 16 "-" 2
	maxTraceStateLen = 512
)

// validRequestID reports whether id is 1-128 characters of [A-Za-z0-9._-].
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseTraceParent validates a version 00 traceparent strictly and returns
// its parts. The results are substrings of tp, so parsing does not allocate.
func parseTraceParent(tp string) (traceID, parentID, flags string, ok bool) {
	if len(tp) != traceParentLen || tp[0] != '0' || tp[1] != '0' ||
		tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return "", "", "", false
	}
	traceID, parentID, flags = tp[3:35], tp[36:52], tp[53:55]
	if !lowerHex(traceID) || !lowerHex(parentID) || !lowerHex(flags) ||
		allZero(traceID) || allZero(parentID) {
		return "", "", "", false
	}
	return traceID, parentID, flags, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// allZero reports whether every character of s is the digit '0'.
func allZero[T string | []byte](s T) bool {
	for i := range len(s) {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// traceState joins the tracestate values and returns "" when they must not
// be forwarded: empty, over 512 bytes, or not printable ASCII.
func traceState(vals []string) string {
	var s string
	switch len(vals) {
	case 0:
		return ""
	case 1:
		s = vals[0]
	default:
		s = strings.Join(vals, ",")
	}
	if len(s) > maxTraceStateLen {
		return ""
	}
	if !policy.IsMetadataText(s) {
		return ""
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// appendRandomHex appends n random bytes to b as 2n lower-case hex digits
// (n a multiple of 8). The bytes come from the runtime's per-thread ChaCha8
// generator (math/rand/v2; a few ns per 8 bytes, against ~170 ns for one
// crypto/rand.Read here), which the operating system seeds; the ids are
// identifiers, never secrets (see the package doc).
func appendRandomHex(b []byte, n int) []byte {
	var raw [8]byte
	for range n / 8 {
		binary.LittleEndian.PutUint64(raw[:], rand.Uint64())
		b = hex.AppendEncode(b, raw[:])
	}
	return b
}

// appendNewTraceParent appends the traceparent of a new trace to b:
// "00-<new trace id>-<new span id>-<flags>". An all-zero trace or span id
// is invalid; drawing one (a chance of 2^-64) draws again.
func appendNewTraceParent(b []byte, flags string) []byte {
	start := len(b)
	for {
		b = append(b[:start], "00-"...)
		b = appendRandomHex(b, 16)
		b = append(b, '-')
		b = appendRandomHex(b, 8)
		if tp := b[start:]; !allZero(tp[3:35]) && !allZero(tp[36:52]) {
			break
		}
	}
	b = append(b, '-')
	return append(b, flags...)
}
