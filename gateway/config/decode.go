package config

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// source records where each key of a parsed file was found.
type source struct {
	file  string
	lines map[string]int // key path → line of the key (or list element)
}

// line returns the line of path or of its nearest ancestor that is in the
// file; the document root is line 1.
func (s *source) line(path string) int {
	for {
		if l, ok := s.lines[path]; ok {
			return l
		}
		if path == "" {
			return 1
		}
		path = parent(path)
	}
}

// decoder fills Go values from a go-yaml syntax tree, guided by the Go types
// and their yaml struct tags. The walk descends one Go type level per step,
// and the types are not recursive, so its depth is bounded whatever the
// input (anchors and aliases included).
type decoder struct {
	errs    *errorList
	lines   map[string]int
	anchors map[string]ast.Node
}

// defaulter is implemented by types whose omitted keys have defaults.
type defaulter interface{ setDefaults() }

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	n = d.resolve(n, path)
	if n == nil {
		return // null or already reported: keep the default
	}
	switch {
	case v.Type() == durationType:
		d.duration(n, v, path)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			setDefaults(v)
		}
		d.decode(n, v.Elem(), path)
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	case v.Kind() == reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.typeError(n, path, "a boolean")
			return
		}
		v.SetBool(b.Value)
	case v.Kind() == reflect.String:
		d.string(n, v, path)
	case v.Kind() == reflect.Int64:
		d.integer(n, v, path)
	default:
		panic(fmt.Sprintf("config: no decoder for %s", v.Type())) // a bug in this package's types
	}
}

func setDefaults(ptr reflect.Value) {
	if df, ok := ptr.Interface().(defaulter); ok {
		df.setDefaults()
	}
}

// resolve follows anchors and aliases to the node that holds the value. It
// returns nil for null and for unsupported nodes (after reporting them).
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for hops := 0; hops < 8; hops++ {
		switch t := n.(type) {
		case nil, *ast.NullNode, *ast.CommentGroupNode, *ast.CommentNode:
			return nil
		case *ast.AnchorNode:
			d.anchors[text(t.Name)] = t.Value
			n = t.Value
		case *ast.AliasNode:
			target, ok := d.anchors[text(t.Value)]
			if !ok {
				d.errs.add(line(t), path, "unknown alias %q", text(t.Value))
				return nil
			}
			n = target
		case *ast.TagNode:
			d.errs.add(line(t), path, "YAML tags (%s) are not supported", text(t))
			return nil
		default:
			return n
		}
	}
	d.errs.add(line(n), path, "too many nested aliases")
	return nil
}

func (d *decoder) mapping(n ast.Node, v reflect.Value, path string) {
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		d.typeError(n, path, "a mapping")
		return
	}
	fields, names := fieldsOf(v.Type())
	for _, kv := range pairs {
		key, ok := kv.Key.(*ast.StringNode)
		if !ok {
			if _, merge := kv.Key.(*ast.MergeKeyNode); merge {
				d.errs.add(line(kv.Key), path, "merge keys (<<) are not supported")
			} else {
				d.errs.add(line(kv.Key), join(path, text(kv.Key)), "unknown field")
			}
			continue
		}
		kp := join(path, key.Value)
		d.lines[kp] = line(key)
		i, ok := fields[key.Value]
		switch {
		case ok:
			d.decode(kv.Value, v.Field(i), kp)
		case path == "" && strings.HasPrefix(key.Value, "x-"):
			d.anchorsIn(kv.Value, 0)
		default:
			if s := suggest(key.Value, names); s != "" {
				d.errs.add(line(key), kp, "unknown field (did you mean %q?)", s)
			} else {
				d.errs.add(line(key), kp, "unknown field")
			}
		}
	}
}

// anchorsIn registers the anchors below an ignored x- key, so that aliases
// elsewhere can use them.
func (d *decoder) anchorsIn(n ast.Node, depth int) {
	if depth > 32 {
		return
	}
	switch t := n.(type) {
	case *ast.AnchorNode:
		d.anchors[text(t.Name)] = t.Value
		d.anchorsIn(t.Value, depth+1)
	case *ast.MappingNode:
		for _, kv := range t.Values {
			d.anchorsIn(kv.Value, depth+1)
		}
	case *ast.MappingValueNode:
		d.anchorsIn(t.Value, depth+1)
	case *ast.SequenceNode:
		for _, e := range t.Values {
			d.anchorsIn(e, depth+1)
		}
	}
}

func (d *decoder) sequence(n ast.Node, v reflect.Value, path string) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.typeError(n, path, "a list")
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, e := range seq.Values {
		ep := index(path, i)
		d.lines[ep] = line(e)
		setDefaults(out.Index(i).Addr())
		d.decode(e, out.Index(i), ep)
	}
	v.Set(out)
}

// string accepts strings, block scalars and, by their source text, numbers
// (so that min_version: 1.3 works unquoted, and 1.20 stays "1.20").
func (d *decoder) string(n ast.Node, v reflect.Value, path string) {
	switch s := n.(type) {
	case *ast.StringNode:
		v.SetString(s.Value)
	case *ast.LiteralNode:
		v.SetString(s.Value.Value)
	case *ast.IntegerNode, *ast.FloatNode:
		v.SetString(text(s))
	default:
		d.typeError(n, path, "a string")
	}
}

func (d *decoder) integer(n ast.Node, v reflect.Value, path string) {
	i, ok := n.(*ast.IntegerNode)
	if !ok {
		if s, isStr := n.(*ast.StringNode); isStr && digits(s.Value) {
			// go-yaml reads integers beyond uint64 as strings.
			d.errs.add(line(n), path, "integer %s out of range", s.Value)
			return
		}
		d.typeError(n, path, "an integer")
		return
	}
	switch x := i.Value.(type) {
	case int64:
		v.SetInt(x)
	case uint64:
		if x > math.MaxInt64 {
			d.errs.add(line(n), path, "integer %s out of range", text(n))
			return
		}
		v.SetInt(int64(x))
	default:
		d.typeError(n, path, "an integer")
	}
}

func digits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func (d *decoder) duration(n ast.Node, v reflect.Value, path string) {
	switch s := n.(type) {
	case *ast.StringNode:
		t, err := time.ParseDuration(s.Value)
		if err != nil {
			d.errs.add(line(n), path, "invalid duration %q", s.Value)
			return
		}
		v.SetInt(int64(t))
	case *ast.IntegerNode, *ast.FloatNode:
		d.errs.add(line(n), path, "invalid duration %q: missing unit, such as \"5s\"", text(n))
	default:
		d.typeError(n, path, "a duration")
	}
}

func (d *decoder) typeError(n ast.Node, path, want string) {
	d.errs.add(line(n), path, "want %s, got %s", want, describe(n))
}
