package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Unknown methods and services are answered by the gateway and never reach
// a backend; reflection shows what the gateway routes.

var unknownMethods = []string{
	"/examples.bank.v1.BankService/Nope", // known service, unknown method
	"/grpc.testing.TestService/Nope",     // descriptor-set service, unknown method
	"/no.such.v1.Service/Call",           // unknown service
}

func TestUnknownMethod(t *testing.T) {
	top := interopEnv(t)
	// Control: interopserver logs unknown methods it receives, so their
	// absence below means the gateway did not forward the call.
	direct := dial(t, top.backend.addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(t, "gateway-client"))))
	if err := direct.Invoke(timeout(t, 5*time.Second), "/examples.bank.v1.BankService/Control", &emptypb.Empty{}, &emptypb.Empty{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("Invoke(backend, Control) = %v, want code %v", err, codes.Unimplemented)
	}
	if _, err := top.backend.waitLog(5*time.Second, "msg", "unknown method", "grpc.method", "/examples.bank.v1.BankService/Control"); err != nil {
		t.Fatal(err)
	}

	cc := dial(t, top.gw.grpcAddr)
	for _, method := range unknownMethods {
		name := strings.ReplaceAll(method[1:], "/", ".")
		t.Run("unary "+name, func(t *testing.T) {
			err := cc.Invoke(timeout(t, 5*time.Second), method, &emptypb.Empty{}, &emptypb.Empty{})
			if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "unknown method" {
				t.Errorf("Invoke(%s) = %v, %q, want %v, %q", method, st.Code(), st.Message(), codes.Unimplemented, "unknown method")
			}
		})
		t.Run("bidi "+name, func(t *testing.T) {
			s, err := cc.NewStream(timeout(t, 5*time.Second), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
			if err == nil {
				_ = s.SendMsg(&emptypb.Empty{})
				err = s.RecvMsg(&emptypb.Empty{})
			}
			if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "unknown method" {
				t.Errorf("NewStream(%s).RecvMsg() = %v, %q, want %v, %q", method, st.Code(), st.Message(), codes.Unimplemented, "unknown method")
			}
		})
	}
	for _, method := range unknownMethods {
		if n := top.backend.countLogs("grpc.method", method); n != 0 {
			t.Errorf("interopserver log lines for %s = %d, want 0 (never forwarded)", method, n)
		}
	}
}

// nopeProtoset writes a descriptor set declaring BankService.Nope, so that
// grpcurl sends a call the gateway does not know instead of refusing it
// locally.
func nopeProtoset(t *testing.T) string {
	t.Helper()
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("e2e/nope.proto"),
		Package:    proto.String("examples.bank.v1"),
		Dependency: []string{"google/protobuf/empty.proto"},
		Syntax:     proto.String("proto3"),
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("BankService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("Nope"), InputType: proto.String(".google.protobuf.Empty"), OutputType: proto.String(".google.protobuf.Empty"),
			}},
		}},
	}
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(emptypb.File_google_protobuf_empty_proto), file,
	}}
	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nope.binpb")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGrpcurl(t *testing.T) {
	grpcurlPath(t)
	g := bankEnv(t).gw
	tests := []struct {
		name     string
		args     []string
		wantCode int      // grpcurl's exit code: 64 + the gRPC code on an RPC error
		want     []string // substrings of the output
	}{
		{"list", []string{g.grpcAddr, "list"}, 0, []string{
			"examples.bank.v1.BankService\ngrpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection\n"}},
		{"describe service", []string{g.grpcAddr, "describe", "examples.bank.v1.BankService"}, 0, []string{
			"examples.bank.v1.BankService is a service:",
			"rpc Ping ( .examples.bank.v1.PingRequest ) returns ( .examples.bank.v1.PingResponse )",
			"rpc QuoteStream ( stream .examples.bank.v1.QuoteStreamRequest ) returns ( stream .examples.bank.v1.QuoteStreamResponse )"}},
		{"describe message", []string{g.grpcAddr, "describe", "examples.bank.v1.PingResponse"}, 0, []string{"string status = 1;"}},
		{"call Ping", []string{"-d", "{}", g.grpcAddr, "examples.bank.v1.BankService/Ping"}, 0, []string{`"status": "ok"`}},
		{"protected method", []string{"-d", `{"name": "accounts/alice-checking"}`, g.grpcAddr, "examples.bank.v1.BankService/GetAccount"}, 64 + int(codes.Unauthenticated),
			[]string{"Code: Unauthenticated", "Message: missing or invalid credentials"}},
		{"unknown method via protoset", []string{"-protoset", nopeProtoset(t), "-d", "{}", g.grpcAddr, "examples.bank.v1.BankService/Nope"}, 64 + int(codes.Unimplemented),
			[]string{"Code: Unimplemented", "Message: unknown method"}},
		{"unknown method via reflection", []string{g.grpcAddr, "describe", "examples.bank.v1.BankService.Nope"}, 1,
			[]string{"examples.bank.v1.BankService.Nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := grpcurl(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("grpcurl %v = exit %d, want %d; output:\n%s", tt.args, code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("grpcurl %v = %q, want it to contain %q", tt.args, out, w)
				}
			}
		})
	}
}

func TestGrpcurlTestService(t *testing.T) {
	grpcurlPath(t)
	top := interopEnv(t)
	addr := top.gw.grpcAddr
	out, code := grpcurl(t, addr, "list")
	if code != 0 || !strings.Contains(out, "\ngrpc.testing.TestService\n") {
		t.Errorf("grpcurl list = %q, exit %d, want grpc.testing.TestService listed, exit 0", out, code)
	}
	out, code = grpcurl(t, addr, "describe", "grpc.testing.TestService")
	if want := "rpc FullDuplexCall ( stream .grpc.testing.StreamingOutputCallRequest ) returns ( stream .grpc.testing.StreamingOutputCallResponse )"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("grpcurl describe grpc.testing.TestService = %q, exit %d, want %q, exit 0", out, code, want)
	}
	out, code = grpcurl(t, "-d", `{"responseSize": 3}`, addr, "grpc.testing.TestService/UnaryCall")
	var resp struct {
		Payload struct{ Body string } `json:"payload"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &resp) != nil || resp.Payload.Body != "AAAA" {
		t.Errorf("grpcurl UnaryCall {responseSize: 3} = %q, exit %d, want payload body AAAA, exit 0", out, code)
	}
}
