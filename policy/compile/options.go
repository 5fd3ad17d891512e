package compile

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
)

// Method is one RPC with its effective (merged) policy.
type Method struct {
	Desc   protoreflect.MethodDescriptor
	Policy *portcullisv1.MethodPolicy // nil when neither method nor service has one
}

// MethodOption returns the method's own (portcullis.v1.method) option, or nil.
func MethodOption(m protoreflect.MethodDescriptor) *portcullisv1.MethodPolicy {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, portcullisv1.E_Method) {
		return nil
	}
	return proto.GetExtension(opts, portcullisv1.E_Method).(*portcullisv1.MethodPolicy)
}

// ServiceOption returns the service default (portcullis.v1.service), or nil.
func ServiceOption(s protoreflect.ServiceDescriptor) *portcullisv1.MethodPolicy {
	opts, ok := s.Options().(*descriptorpb.ServiceOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, portcullisv1.E_Service) {
		return nil
	}
	return proto.GetExtension(opts, portcullisv1.E_Service).(*portcullisv1.MethodPolicy)
}

// FileCatalog returns the (portcullis.v1.catalog) declared by a file, or nil.
func FileCatalog(fd protoreflect.FileDescriptor) *portcullisv1.Catalog {
	opts, ok := fd.Options().(*descriptorpb.FileOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, portcullisv1.E_Catalog) {
		return nil
	}
	return proto.GetExtension(opts, portcullisv1.E_Catalog).(*portcullisv1.Catalog)
}

// fieldSensitive reports whether a field is marked sensitive.
// FieldSensitive reports whether fd carries (portcullis.v1.field).sensitive.
func FieldSensitive(fd protoreflect.FieldDescriptor) bool { return fieldSensitive(fd) }

func fieldSensitive(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, portcullisv1.E_Field) {
		return false
	}
	return proto.GetExtension(opts, portcullisv1.E_Field).(*portcullisv1.FieldPolicy).GetSensitive()
}

// Merge computes the effective policy: the service default with every
// top-level field the method sets replacing the default's field. Setting
// either access field (require or public) on the method replaces the
// default's access rule as a whole. Returns nil when both are nil.
func Merge(svc, own *portcullisv1.MethodPolicy) *portcullisv1.MethodPolicy {
	switch {
	case svc == nil && own == nil:
		return nil
	case svc == nil:
		return proto.Clone(own).(*portcullisv1.MethodPolicy)
	}
	out := proto.Clone(svc).(*portcullisv1.MethodPolicy)
	if own == nil {
		return out
	}
	if own.Require != nil || own.Public != nil {
		out.Require, out.Public = nil, nil
	}
	if own.Public != nil {
		// Caller requirements of the default only make sense for protected
		// methods; a method that declares itself public drops them. Set on
		// the method itself they are still an error.
		out.Credentials, out.RequireMtls, out.RequireBoundToken, out.RequireSignature = nil, false, false, false
	}
	dst := out.ProtoReflect()
	own.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	return out
}
