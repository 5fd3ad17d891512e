package compile

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// resolvePath walks a dotted field path through singular message fields of
// msg and returns the last field.
func resolvePath(msg protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	if path == "" {
		return nil, fmt.Errorf("empty field path")
	}
	parts := strings.Split(path, ".")
	cur := msg
	var fd protoreflect.FieldDescriptor
	for i, p := range parts {
		if cur == nil {
			return nil, fmt.Errorf("%q: %s is not a message", path, strings.Join(parts[:i], "."))
		}
		fd = cur.Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return nil, fmt.Errorf("%q: %s has no field %q", path, cur.FullName(), p)
		}
		if i < len(parts)-1 {
			if fd.IsList() || fd.IsMap() {
				return nil, fmt.Errorf("%q: %s is repeated", path, strings.Join(parts[:i+1], "."))
			}
			cur = fd.Message()
		}
	}
	return fd, nil
}

// resolveScalarPath is resolvePath restricted to a singular string or
// integer leaf, as resource and rate-limit keys need.
func resolveScalarPath(msg protoreflect.MessageDescriptor, path string) error {
	fd, err := resolvePath(msg, path)
	if err != nil {
		return err
	}
	if fd.IsList() || fd.IsMap() {
		return fmt.Errorf("%q is repeated, want a singular string or integer field", path)
	}
	switch fd.Kind() {
	case protoreflect.StringKind,
		protoreflect.Int32Kind, protoreflect.Int64Kind,
		protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Fixed32Kind, protoreflect.Fixed64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return nil
	}
	return fmt.Errorf("%q has type %s, want a string or integer field", path, fd.Kind())
}

// maxFieldDepth bounds the walk for sensitive fields through nested and
// recursive messages.
const maxFieldDepth = 8

// SensitivePaths lists the dotted paths of every field marked sensitive in
// msg, through nested, repeated and map-valued messages, sorted.
func SensitivePaths(msg protoreflect.MessageDescriptor) []string {
	var out []string
	var walk func(m protoreflect.MessageDescriptor, prefix string, depth int, seen map[protoreflect.FullName]bool)
	walk = func(m protoreflect.MessageDescriptor, prefix string, depth int, seen map[protoreflect.FullName]bool) {
		if depth > maxFieldDepth || seen[m.FullName()] {
			return
		}
		seen[m.FullName()] = true
		defer delete(seen, m.FullName())
		fields := m.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			p := prefix + string(fd.Name())
			if fieldSensitive(fd) {
				out = append(out, p)
				continue // the whole subtree is redacted
			}
			sub := fd.Message()
			if fd.IsMap() {
				sub = fd.MapValue().Message()
			}
			if sub != nil {
				walk(sub, p+".", depth+1, seen)
			}
		}
	}
	walk(msg, "", 0, map[protoreflect.FullName]bool{})
	sort.Strings(out)
	return out
}
