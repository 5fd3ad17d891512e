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

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
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

// ids holds the random parts of one call: a request id, a trace id and a
// span id, hex-encoded in one stack buffer. The bytes come from the
// runtime's per-thread ChaCha8 generator (math/rand/v2; ~35 ns for all
// three, against ~170 ns for crypto/rand.Read here), which the operating
// system seeds; the ids are identifiers, never secrets (see the package
// doc).
type ids struct {
	hex [2 * (16 + 16 + 8)]byte
}

// fill sets x to new random ids.
func (x *ids) fill() {
	var raw [16 + 16 + 8]byte
	for {
		for i := 0; i < len(raw); i += 8 {
			binary.LittleEndian.PutUint64(raw[i:], rand.Uint64())
		}
		// An all-zero trace or span id is invalid; the chance is 2^-64.
		if !allZeroBytes(raw[16:32]) && !allZeroBytes(raw[32:]) {
			break
		}
	}
	hex.Encode(x.hex[:], raw[:])
}

func (x *ids) requestID() []byte { return x.hex[0:32] }
func (x *ids) traceID() []byte   { return x.hex[32:64] }
func (x *ids) spanID() []byte    { return x.hex[64:80] }

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendTraceParent appends "00-<trace id>-<spanID>-<flags>" to b. The
// trace id is traceID, or newTraceID when traceID is "" (a new trace), so
// that neither has to be converted first.
func appendTraceParent(b []byte, traceID string, newTraceID, spanID []byte, flags string) []byte {
	b = append(b, "00-"...)
	if traceID != "" {
		b = append(b, traceID...)
	} else {
		b = append(b, newTraceID...)
	}
	b = append(b, '-')
	b = append(b, spanID...)
	b = append(b, '-')
	return append(b, flags...)
}
