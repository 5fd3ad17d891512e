package authn

import (
	"encoding/json"
	"strconv"
)

// claimSet is a JWT claims set: each top-level member of the payload's
// JSON object, by name, with its value still encoded. Values are decoded
// when read, so a token pays only for the claims the issuer's
// configuration reads; decoding all of them into map[string]any with
// encoding/json cost more than the rest of a cache miss's own work.
//
// parseClaims validates the whole payload with json.Valid first, so the
// splitting below runs only over well-formed JSON. Every string or number
// it reads on its fast path is one whose encoding/json decoding is plain
// (no escape, no byte outside ASCII, a number strconv.ParseFloat takes);
// anything else is decoded by encoding/json itself. The result is the
// map json.Unmarshal would give, value for value (FuzzClaimSet checks this
// against encoding/json), except that a duplicated claim name refuses the
// token, as RFC 7519 section 4 allows, instead of keeping the last one.
type claimSet struct {
	list  []claim
	index map[string]int // into list, once it holds more than indexAt claims
}

// claim is one member of a claims set, its value still encoded. Names
// and values are substrings of one copy of the payload, so that the
// strings a principal keeps share it instead of allocating each.
type claim struct {
	name string
	val  string
}

// indexAt is the size beyond which a claimSet indexes its names: below
// it, a linear search is cheaper than a map; above it, a payload of many
// small claims would make the search (and the duplicate check, before the
// signature is verified) quadratic.
const indexAt = 16

// get returns the encoded value of a claim.
func (cs *claimSet) get(name string) (string, bool) {
	if cs.index != nil {
		i, ok := cs.index[name]
		if !ok {
			return "", false
		}
		return cs.list[i].val, true
	}
	for i := range cs.list {
		if cs.list[i].name == name {
			return cs.list[i].val, true
		}
	}
	return "", false
}

// add appends a claim, false if its name is already in the set.
func (cs *claimSet) add(name, val string) bool {
	if _, dup := cs.get(name); dup {
		return false
	}
	cs.list = append(cs.list, claim{name, val})
	switch n := len(cs.list); {
	case n == indexAt+1:
		cs.index = make(map[string]int, 2*n)
		for i, c := range cs.list {
			cs.index[c.name] = i
		}
	case n > indexAt+1:
		cs.index[name] = n - 1
	}
	return true
}

// len returns the number of claims.
func (cs *claimSet) len() int { return len(cs.list) }

// parseClaims splits a JWT payload into its claims, or says why it cannot.
func parseClaims(payload []byte) (*claimSet, string) {
	const notObject = "claims are not a JSON object"
	if !json.Valid(payload) {
		return nil, notObject
	}
	b := string(payload)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, notObject
	}
	cs := &claimSet{list: make([]claim, 0, indexAt)}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return cs, ""
	}
	for i < len(b) {
		end := stringEnd(b, i)
		if end < 0 {
			return nil, notObject
		}
		name, ok := decodeString(b[i:end])
		if !ok {
			return nil, notObject
		}
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return nil, notObject
		}
		i = skipSpace(b, i+1)
		if end = valueEnd(b, i); end < 0 {
			return nil, "claims hold a number out of range"
		}
		if !cs.add(name, b[i:end]) {
			return nil, "claim " + strconv.Quote(name) + " appears twice"
		}
		var done bool
		if i, done, ok = afterElement(b, end, '}'); done {
			return cs, ""
		}
		if !ok {
			break
		}
	}
	return nil, notObject
}

// has reports whether the claim is present and not null: the claim a
// map[string]any would hold as a non-nil value.
func (cs *claimSet) has(name string) bool {
	v, ok := cs.get(name)
	return ok && v != "null"
}

// str returns the claim as a string: present reports whether it is in the
// set at all (null included), ok whether it is a JSON string.
func (cs *claimSet) str(name string) (s string, present, ok bool) {
	v, present := cs.get(name)
	if !present {
		return "", false, false
	}
	s, ok = decodeString(v)
	return s, true, ok
}

// value returns the claim decoded as encoding/json decodes it into an
// interface, nil when it is absent or null.
func (cs *claimSet) value(name string) any {
	v, ok := cs.get(name)
	if !ok {
		return nil
	}
	return decodeAny(v)
}

// number returns a numeric claim: present reports whether it is in the set
// at all (null included), ok whether it is a JSON number.
func (cs *claimSet) number(name string) (f float64, present, ok bool) {
	v, present := cs.get(name)
	if !present || len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, present, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, true, err == nil
}

// strings reads a claim that is a string or an array of strings; an
// absent or null claim is an empty list.
func (cs *claimSet) strings(name string) ([]string, bool) {
	v, ok := cs.get(name)
	if !ok || v == "null" {
		return nil, true
	}
	switch v[0] {
	case '"':
		s, ok := decodeString(v)
		return []string{s}, ok
	case '[':
		return stringArray(v)
	}
	return nil, false
}

// stringArray decodes a JSON array whose elements are all strings.
func stringArray(v string) ([]string, bool) {
	out := []string{}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return out, true
	}
	for i < len(v) {
		if v[i] != '"' {
			return nil, false
		}
		end := stringEnd(v, i)
		if end < 0 {
			return nil, false
		}
		s, ok := decodeString(v[i:end])
		if !ok {
			return nil, false
		}
		out = append(out, s)
		var done bool
		if i, done, ok = afterElement(v, end, ']'); done {
			return out, true
		}
		if !ok {
			break
		}
	}
	return nil, false
}

// afterElement reads what follows an element of an array or object that
// ends at i: the closing byte (done), or a comma and the index of the next
// element; ok is false for anything else.
func afterElement(b string, i int, closing byte) (next int, done, ok bool) {
	if i = skipSpace(b, i); i < len(b) {
		switch b[i] {
		case closing:
			return i + 1, true, true
		case ',':
			return skipSpace(b, i+1), false, true
		}
	}
	return 0, false, false
}

// decodeString decodes one JSON string: directly when it holds no escape
// and only ASCII, otherwise with encoding/json (which also replaces
// invalid UTF-8 the way the rest of the gateway sees it).
func decodeString(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for i := 1; i < len(v)-1; i++ {
		if c := v[i]; c == '\\' || c >= 0x80 || c < 0x20 {
			var s string
			if json.Unmarshal([]byte(v), &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return v[1 : len(v)-1], true
}

// decodeAny decodes one JSON value as encoding/json decodes it into an
// interface; v has been validated, so an error cannot happen, and would
// give nil.
func decodeAny(v string) any {
	var x any
	if json.Unmarshal([]byte(v), &x) != nil {
		return nil
	}
	return x
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b string, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts at i,
// or -1.
func stringEnd(b string, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the JSON value that starts at i, or
// -1 when it is malformed or holds a number that strconv.ParseFloat
// refuses (out of range), which encoding/json would refuse too.
func valueEnd(b string, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			if i = stringEnd(b, i); i < 0 {
				return -1
			}
		case c == '{' || c == '[':
			depth++
			i++
		case c == '}' || c == ']':
			if depth--; depth < 0 {
				return -1
			}
			i++
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(b) && isNumberByte(b[j]) {
				j++
			}
			if _, err := strconv.ParseFloat(b[i:j], 64); err != nil {
				return -1
			}
			i = j
		case c == 't' || c == 'n':
			i += 4
		case c == 'f':
			i += 5
		default: // ',', ':' and whitespace inside an array or object
			if depth == 0 {
				return -1
			}
			i++
		}
		if depth == 0 {
			if i > len(b) {
				return -1
			}
			return i
		}
	}
	return -1
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}
