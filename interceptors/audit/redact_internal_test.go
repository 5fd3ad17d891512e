package audit

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/compile"
)

// nodeDescriptor is
//
//	message Node {
//	  string secret = 1 [(portcullis.v1.field).sensitive = true];
//	  Node child = 2; repeated Node kids = 3; string name = 4; google.protobuf.Any extra = 5;
//	}
//
// a recursive message, which the method's precomputed sensitive paths
// (compile.SensitivePaths) cannot follow below its first level.
func nodeDescriptor(t *testing.T) *dynamicpb.Message {
	t.Helper()
	sensitive := &descriptorpb.FieldOptions{}
	proto.SetExtension(sensitive, portcullisv1.E_Field, &portcullisv1.FieldPolicy{Sensitive: true})
	str, msg := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	opt, rep := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("redact_node.proto"), Package: proto.String("redactnode.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/any.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Node"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("secret"), Number: proto.Int32(1), Type: str, Label: opt, JsonName: proto.String("secret"), Options: sensitive},
				{Name: proto.String("child"), Number: proto.Int32(2), Type: msg, Label: opt, TypeName: proto.String(".redactnode.v1.Node"), JsonName: proto.String("child")},
				{Name: proto.String("kids"), Number: proto.Int32(3), Type: msg, Label: rep, TypeName: proto.String(".redactnode.v1.Node"), JsonName: proto.String("kids")},
				{Name: proto.String("name"), Number: proto.Int32(4), Type: str, Label: opt, JsonName: proto.String("name")},
				{Name: proto.String("extra"), Number: proto.Int32(5), Type: msg, Label: opt, TypeName: proto.String(".google.protobuf.Any"), JsonName: proto.String("extra")},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return dynamicpb.NewMessage(fd.Messages().ByName("Node"))
}

// TestRedactRecursive: a sensitive field is redacted at every depth of a
// recursive message and in repeated fields, and an Any's content is never
// written.
func TestRedactRecursive(t *testing.T) {
	root := nodeDescriptor(t)
	d := root.Descriptor()
	node := func(secret, name string) *dynamicpb.Message {
		n := dynamicpb.NewMessage(d)
		n.Set(d.Fields().ByName("secret"), protoreflectString(secret))
		n.Set(d.Fields().ByName("name"), protoreflectString(name))
		return n
	}
	root.Set(d.Fields().ByName("secret"), protoreflectString("ROOT-SECRET"))
	child := node("CHILD-SECRET", "child")
	grand := node("GRAND-SECRET", "grandchild")
	child.Set(d.Fields().ByName("child"), protoreflectMessage(grand))
	root.Set(d.Fields().ByName("child"), protoreflectMessage(child))
	kids := root.Mutable(d.Fields().ByName("kids")).List()
	kids.Append(protoreflectMessage(node("KID-SECRET", "kid")))
	packed, err := anypb.New(wrapperspb.String("ANY-SECRET"))
	if err != nil {
		t.Fatal(err)
	}
	root.Set(d.Fields().ByName("extra"), protoreflectMessage(dynamicOf(t, packed)))

	// The method's paths, as the gateway computes them, stop at the recursion.
	m := &policy.Method{FullMethod: "/redactnode.v1.S/M", SensitiveFields: compile.SensitivePaths(d)}
	got := string(renderRequest(m, root, 1<<20))
	for _, secret := range []string{"ROOT-SECRET", "CHILD-SECRET", "GRAND-SECRET", "KID-SECRET", "ANY-SECRET"} {
		if strings.Contains(got, secret) {
			t.Errorf("record holds %s: %s", secret, got)
		}
	}
	for _, kept := range []string{`"name":"child"`, `"name":"grandchild"`, `"name":"kid"`, `"@type":"type.googleapis.com/google.protobuf.StringValue"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("record lacks %s: %s", kept, got)
		}
	}
	if n := strings.Count(got, `"secret":"`+Redacted+`"`); n != 4 {
		t.Errorf("%d secrets redacted, want 4: %s", n, got)
	}
}

func protoreflectString(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }

func protoreflectMessage(m proto.Message) protoreflect.Value {
	return protoreflect.ValueOfMessage(m.ProtoReflect())
}

// dynamicOf copies an Any into a dynamic message of the Any descriptor
// (dynamicpb fields of message type hold dynamic messages).
func dynamicOf(t *testing.T, a *anypb.Any) *dynamicpb.Message {
	t.Helper()
	out := dynamicpb.NewMessage(a.ProtoReflect().Descriptor())
	b, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}
