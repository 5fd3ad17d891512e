package audit

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/compile"
)

// Request fields are rendered like protojson (JSON names, 64-bit integers
// and bytes as strings, enums by name, well-known types in their JSON
// form) but canonically (keys sorted) and with floating-point numbers
// without exponent, so that a record survives a jsonb round trip. Only
// populated fields appear; extensions and unknown fields are left out.

const (
	maxRenderDepth = 32
	truncated      = "[TRUNCATED]"
)

// pathNode is a set of field paths as a tree; a leaf covers its subtree.
type pathNode struct {
	leaf bool
	kids map[string]*pathNode
}

func compilePaths(paths []string) *pathNode {
	if len(paths) == 0 {
		return nil
	}
	root := &pathNode{}
	for _, p := range paths {
		n := root
		for seg := range strings.SplitSeq(p, ".") {
			if n.leaf {
				break
			}
			c := n.kids[seg]
			if c == nil {
				c = &pathNode{}
				if n.kids == nil {
					n.kids = map[string]*pathNode{}
				}
				n.kids[seg] = c
			}
			n = c
		}
		n.leaf, n.kids = true, nil
	}
	return root
}

// child follows fd in the tree; paths may use proto or JSON names.
func (n *pathNode) child(fd protoreflect.FieldDescriptor) *pathNode {
	if n == nil {
		return nil
	}
	if c := n.kids[string(fd.Name())]; c != nil {
		return c
	}
	return n.kids[fd.JSONName()]
}

// plan is a method's compiled field selection (nil: all) and redaction.
type plan struct {
	sel, red *pathNode
}

var plans sync.Map // *policy.Method → *plan; methods are immutable

func planFor(m *policy.Method) *plan {
	if p, ok := plans.Load(m); ok {
		return p.(*plan)
	}
	p := &plan{sel: compilePaths(m.Audit.Fields), red: compilePaths(m.SensitiveFields)}
	actual, _ := plans.LoadOrStore(m, p)
	return actual.(*plan)
}

// renderRequest renders msg's audited fields for m, or the string
// "[TRUNCATED]" when the result would exceed limit bytes.
func renderRequest(m *policy.Method, msg proto.Message, limit int) json.RawMessage {
	p := planFor(m)
	b := appendMessage(nil, msg.ProtoReflect(), p.sel, p.red, 0)
	if len(b) > limit {
		return appendString(nil, truncated)
	}
	return b
}

type renderField struct {
	fd       protoreflect.FieldDescriptor
	v        protoreflect.Value
	name     string
	sel, red *pathNode
}

func appendMessage(b []byte, m protoreflect.Message, sel, red *pathNode, depth int) []byte {
	if depth > maxRenderDepth {
		return appendString(b, truncated)
	}
	var fs []renderField
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() {
			return true
		}
		f := renderField{fd: fd, v: v, name: fd.JSONName(), red: red.child(fd)}
		if sel != nil {
			if f.sel = sel.child(fd); f.sel == nil {
				return true // not selected
			}
			if f.sel.leaf {
				f.sel = nil // the whole subtree
			}
		}
		fs = append(fs, f)
		return true
	})
	slices.SortFunc(fs, func(a, b renderField) int { return cmp.Compare(a.name, b.name) })
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, f.name), ':')
		// The method's sensitive paths, and the field's own mark: the
		// paths stop at recursion and depth, the mark does not.
		if f.red != nil && f.red.leaf || sensitive(f.fd) {
			b = appendString(b, Redacted)
			continue
		}
		b = appendField(b, f.fd, f.v, f.sel, f.red, depth)
	}
	return append(b, '}')
}

func appendField(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, sel, red *pathNode, depth int) []byte {
	switch {
	case fd.IsList():
		l := v.List()
		b = append(b, '[')
		for i := range l.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSingular(b, fd, l.Get(i), sel, red, depth)
		}
		return append(b, ']')
	case fd.IsMap():
		mp := v.Map()
		type kv struct {
			k string
			v protoreflect.Value
		}
		kvs := make([]kv, 0, mp.Len())
		mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			kvs = append(kvs, kv{k.Value().String(), v})
			return true
		})
		slices.SortFunc(kvs, func(a, b kv) int { return cmp.Compare(a.k, b.k) })
		b = append(b, '{')
		for i, e := range kvs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, e.k), ':')
			b = appendSingular(b, fd.MapValue(), e.v, sel, red, depth)
		}
		return append(b, '}')
	}
	return appendSingular(b, fd, v, sel, red, depth)
}

func appendSingular(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, sel, red *pathNode, depth int) []byte {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return append(strconv.AppendInt(append(b, '"'), v.Int(), 10), '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return append(strconv.AppendUint(append(b, '"'), v.Uint(), 10), '"')
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32)
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64)
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"')
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return append(b, "null"...)
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendString(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		if wellKnown(m.Descriptor().FullName()) {
			if red != nil {
				return appendString(b, Redacted) // a sensitive path inside
			}
			if m.Descriptor().FullName() == "google.protobuf.Any" {
				return appendAny(b, m)
			}
			return appendWellKnown(b, m)
		}
		return appendMessage(b, m, sel, red, depth+1)
	}
	return append(b, "null"...)
}

func wellKnown(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Any", "google.protobuf.Timestamp", "google.protobuf.Duration",
		"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
		"google.protobuf.FieldMask", "google.protobuf.Empty",
		"google.protobuf.BoolValue", "google.protobuf.BytesValue", "google.protobuf.StringValue",
		"google.protobuf.Int32Value", "google.protobuf.Int64Value", "google.protobuf.UInt32Value",
		"google.protobuf.UInt64Value", "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return true
	}
	return false
}

// sensitiveFields caches compile.FieldSensitive by field descriptor.
var sensitiveFields sync.Map // protoreflect.FieldDescriptor → bool

func sensitive(fd protoreflect.FieldDescriptor) bool {
	if v, ok := sensitiveFields.Load(fd); ok {
		return v.(bool)
	}
	s := compile.FieldSensitive(fd)
	sensitiveFields.Store(fd, s)
	return s
}

// appendAny renders an Any as its type URL alone: which of the packed
// message's fields are sensitive cannot be known for every type, so its
// content is never written.
func appendAny(b []byte, m protoreflect.Message) []byte {
	url := m.Get(m.Descriptor().Fields().ByName("type_url")).String()
	b = append(appendString(append(b, '{'), "@type"), ':')
	b = appendString(b, url)
	b = append(append(b, ','), `"value":`...)
	b = appendString(b, Redacted)
	return append(b, '}')
}

func appendWellKnown(b []byte, m protoreflect.Message) []byte {
	j, err := protojson.Marshal(m.Interface())
	if err != nil {
		return appendString(b, "[UNRENDERABLE]")
	}
	c, err := Canonical(j)
	if err != nil {
		return appendString(b, "[UNRENDERABLE]")
	}
	return append(b, c...)
}
