package httpsig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxFieldBytes bounds every field value the parser accepts: no signature
// the client helper produces comes close, and it keeps parsing cost flat.
const MaxFieldBytes = 8 << 10

// Limits on the parsed structures, checked while parsing.
const (
	maxMembers    = 16 // labels per field
	maxComponents = 32 // components per inner list
	maxParams     = 8  // parameters per inner list
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("httpsig: malformed structured field")

// bareItem is a parsed sf-string, sf-integer or sf-binary.
type bareItem struct {
	kind  byte // 's' string, 'i' integer, 'b' byte sequence
	str   string
	num   int64
	bytes []byte
}

// param is one parsed parameter, in received order.
type param struct {
	key string
	val bareItem
}

// innerList is a parsed inner list of strings with its parameters.
type innerList struct {
	items  []string
	params []param
}

// member is one dictionary member: an inner list or a bare item.
type member struct {
	key   string
	list  *innerList
	item  bareItem
	isLst bool
}

// parser walks one field value. All errors wrap ErrSyntax.
type parser struct {
	s   string
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrSyntax, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *parser) skipSP() {
	for !p.eof() && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *parser) skipOWS() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// parseDictionary parses an sf-dictionary (RFC 8941 §4.2.2), refusing
// duplicate keys and members that are bare keys (boolean true).
func parseDictionary(s string) ([]member, error) {
	if len(s) > MaxFieldBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, MaxFieldBytes)
	}
	p := &parser{s: s}
	p.skipSP()
	var out []member
	for {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		for _, m := range out {
			if m.key == key {
				return nil, p.errorf("duplicate key %q", key)
			}
		}
		if p.peek() != '=' {
			return nil, p.errorf("member %q has no value", key)
		}
		p.pos++
		m := member{key: key}
		if p.peek() == '(' {
			l, err := p.innerList()
			if err != nil {
				return nil, err
			}
			m.list, m.isLst = l, true
		} else {
			if m.item, err = p.bareItem(); err != nil {
				return nil, err
			}
			if p.peek() == ';' {
				return nil, p.errorf("member %q: parameters are not supported here", key)
			}
		}
		if out = append(out, m); len(out) > maxMembers {
			return nil, p.errorf("more than %d members", maxMembers)
		}
		p.skipOWS()
		if p.eof() {
			return out, nil
		}
		if p.peek() != ',' {
			return nil, p.errorf("expected ',' after member %q", key)
		}
		p.pos++
		p.skipOWS()
		if p.eof() {
			return nil, p.errorf("trailing ','")
		}
	}
}

// key parses an RFC 8941 key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *parser) key() (string, error) {
	start := p.pos
	if c := p.peek(); (c < 'a' || c > 'z') && c != '*' {
		return "", p.errorf("expected a lower-case key")
	}
	for !p.eof() {
		c := p.s[p.pos]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '*' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos], nil
}

// innerList parses "(" *SP [ sf-string *( 1*SP sf-string ) *SP ] ")"
// followed by parameters. Items must be strings without parameters.
func (p *parser) innerList() (*innerList, error) {
	p.pos++ // '('
	l := &innerList{}
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.pos++
			break
		}
		if p.peek() != '"' {
			return nil, p.errorf("inner list items must be strings")
		}
		it, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		if p.peek() == ';' {
			return nil, p.errorf("component parameters are not supported")
		}
		if l.items = append(l.items, it.str); len(l.items) > maxComponents {
			return nil, p.errorf("more than %d components", maxComponents)
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.errorf("expected ' ' or ')' in inner list")
		}
	}
	for p.peek() == ';' {
		p.pos++
		p.skipSP()
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		for _, q := range l.params {
			if q.key == k {
				return nil, p.errorf("duplicate parameter %q", k)
			}
		}
		if p.peek() != '=' {
			return nil, p.errorf("boolean parameter %q is not supported", k)
		}
		p.pos++
		v, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		if l.params = append(l.params, param{key: k, val: v}); len(l.params) > maxParams {
			return nil, p.errorf("more than %d parameters", maxParams)
		}
	}
	return l, nil
}

// bareItem parses an sf-string, sf-integer or sf-binary; tokens, booleans,
// decimals and display strings are refused.
func (p *parser) bareItem() (bareItem, error) {
	switch c := p.peek(); {
	case c == '"':
		s, err := p.str()
		return bareItem{kind: 's', str: s}, err
	case c == ':':
		b, err := p.binary()
		return bareItem{kind: 'b', bytes: b}, err
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.integer()
		return bareItem{kind: 'i', num: n}, err
	}
	return bareItem{}, p.errorf("expected a string, integer or byte sequence")
}

func (p *parser) str() (string, error) {
	p.pos++ // '"'
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.pos] != '"' && p.s[p.pos] != '\\') {
				return "", p.errorf("bad escape in string")
			}
			b.WriteByte(p.s[p.pos])
			p.pos++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", p.errorf("non-printable byte in string")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) integer() (int64, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	digits := p.pos
	for !p.eof() && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	if n := p.pos - digits; n == 0 || n > 15 {
		return 0, p.errorf("integer must have 1 to 15 digits")
	}
	if p.peek() == '.' {
		return 0, p.errorf("decimals are not supported")
	}
	return strconv.ParseInt(p.s[start:p.pos], 10, 64)
}

// binary parses ":" base64 ":" with canonical, padded standard base64.
func (p *parser) binary() ([]byte, error) {
	p.pos++ // ':'
	end := strings.IndexByte(p.s[p.pos:], ':')
	if end < 0 {
		return nil, p.errorf("unterminated byte sequence")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(p.s[p.pos : p.pos+end])
	if err != nil {
		return nil, p.errorf("byte sequence is not canonical base64")
	}
	p.pos += end + 1
	return b, nil
}
