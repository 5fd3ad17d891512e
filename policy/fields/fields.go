// Package fields reads the request fields a method policy names (resource
// and rate-limit key paths such as "account" or "transfer.account"). One
// reader serves the authorization stage, the rate limiter and
// `portcullis policy test`, so they always see the same value.
package fields

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// String returns the value of the dotted scalar field path in msg as a
// string: "" when a message on the path is unset or the path does not
// name a singular scalar field (paths are checked at generation time).
// Integers and enums are formatted in base 10.
func String(msg proto.Message, path string) string {
	m := msg.ProtoReflect()
	for {
		name, rest, nested := strings.Cut(path, ".")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return ""
		}
		if nested {
			if fd.Message() == nil || !m.Has(fd) {
				return ""
			}
			m, path = m.Get(fd).Message(), rest
			continue
		}
		v := m.Get(fd)
		switch fd.Kind() {
		case protoreflect.StringKind:
			return v.String()
		case protoreflect.BoolKind:
			return strconv.FormatBool(v.Bool())
		case protoreflect.EnumKind:
			return strconv.FormatInt(int64(v.Enum()), 10)
		case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
			protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
			return strconv.FormatInt(v.Int(), 10)
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
			return strconv.FormatUint(v.Uint(), 10)
		}
		return ""
	}
}
