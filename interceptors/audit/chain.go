package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Chain is the hash-chain state of one sink stream: the last record's
// sequence number and hash. The zero Chain starts a new chain (the first
// record has seq 1 and prev_hash 64 zeros). A Chain is a plain value: a
// sink copies it, appends a batch to the copy, and keeps the copy only
// once the batch is stored, so a failed write leaves the chain unchanged.
// It is not safe for concurrent use.
type Chain struct {
	// Seq is the last record's sequence number (0 before the first).
	Seq uint64
	// Prev is the last record's hash.
	Prev [32]byte

	scratch []byte
}

// Append appends e's record, linked to the chain, to dst and returns it
// (without a newline). It advances c: afterwards c.Seq is the record's seq
// and c.Prev its hash.
func (c *Chain) Append(dst []byte, e *Entry) []byte {
	c.Seq++
	b := e.body
	// The record without "hash", with 32 bytes of prev in front to hash.
	s := append(c.scratch[:0], c.Prev[:]...)
	s = append(s, b[:e.offPrev]...)
	s = append(s, `,"prev_hash":"`...)
	s = hex.AppendEncode(s, c.Prev[:])
	s = append(s, '"')
	s = append(s, b[e.offPrev:e.offSeq]...)
	s = append(s, `,"seq":`...)
	s = strconv.AppendUint(s, c.Seq, 10)
	s = append(s, b[e.offSeq:]...)
	s = append(s, '}')
	s[len(c.Prev)] = '{' // the leading comma of the first member
	c.scratch = s
	sum := sha256.Sum256(s)
	rec := s[len(c.Prev):]
	// The same record with "hash" at its place. Chain keys never come
	// first, so offHash is past the opening brace.
	at := e.offHash
	if at > e.offPrev {
		return dst // unreachable: appendBody orders the offsets
	}
	dst = append(dst, rec[:at]...)
	dst = append(dst, `,"hash":"`...)
	dst = hex.AppendEncode(dst, sum[:])
	dst = append(dst, '"')
	dst = append(dst, rec[at:]...)
	c.Prev = sum
	return dst
}

// Link is a record's place in its chain, as read back by ParseLink.
type Link struct {
	// Type, Seq, Prev and Hash are the record's type, seq, prev_hash and
	// hash.
	Type string
	Seq  uint64
	Prev [32]byte
	Hash [32]byte
	// Valid is true when Hash is the record's true hash.
	Valid bool
	// Canonical is true when the record was already in canonical form
	// (every record a Logger writes to a file is).
	Canonical bool
	// Count and LastHash are a seal record's count and last_hash.
	Count    uint64
	LastHash [32]byte
}

// ParseLink reads the chain keys of one record (a JSON object) and checks
// its hash. It fails when the record is not a JSON object or its chain
// keys are missing or ill-formed.
func ParseLink(record []byte) (Link, error) {
	var l Link
	v, err := decodeJSON(record)
	if err != nil {
		return l, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return l, errors.New("audit: record is not a JSON object")
	}
	if l.Type, ok = m["type"].(string); !ok {
		return l, errors.New("audit: record has no type")
	}
	n, ok := m["seq"].(json.Number)
	if !ok {
		return l, errors.New("audit: record has no seq")
	}
	if l.Seq, err = strconv.ParseUint(string(n), 10, 64); err != nil || l.Seq == 0 {
		return l, fmt.Errorf("audit: bad seq %q", n)
	}
	if err := hexField(m, "prev_hash", &l.Prev); err != nil {
		return l, err
	}
	if err := hexField(m, "hash", &l.Hash); err != nil {
		return l, err
	}
	if l.Type == TypeSeal {
		if n, ok := m["count"].(json.Number); ok {
			l.Count, _ = strconv.ParseUint(string(n), 10, 64)
		}
		if err := hexField(m, "last_hash", &l.LastHash); err != nil {
			return l, err
		}
	}
	full, err := appendCanonical(nil, m)
	if err != nil {
		return l, err
	}
	l.Canonical = string(full) == string(record)
	delete(m, "hash")
	s := append(make([]byte, 0, len(record)+32), l.Prev[:]...)
	if s, err = appendCanonical(s, m); err != nil {
		return l, err
	}
	l.Valid = sha256.Sum256(s) == l.Hash
	return l, nil
}

func hexField(m map[string]any, key string, dst *[32]byte) error {
	s, ok := m[key].(string)
	if !ok {
		return fmt.Errorf("audit: record has no %s", key)
	}
	if len(s) != 64 {
		return fmt.Errorf("audit: bad %s %q", key, s)
	}
	if _, err := hex.Decode(dst[:], []byte(s)); err != nil {
		return fmt.Errorf("audit: bad %s %q", key, s)
	}
	return nil
}
