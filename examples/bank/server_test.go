package bank_test

import (
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestNewGRPCServerHealth(t *testing.T) {
	f := start(t)
	hc := healthpb.NewHealthClient(f.conn)
	for _, service := range []string{"", bankv1.BankService_ServiceDesc.ServiceName} {
		resp, err := hc.Check(testContext(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, %v, want SERVING", service, resp, err)
		}
	}
}

func TestNewGRPCServerReflection(t *testing.T) {
	f := start(t)
	stream, err := reflectionpb.NewServerReflectionClient(f.conn).ServerReflectionInfo(testContext(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo() = %v, want nil", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("Send(list services) = %v, want nil", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv() = %v, want nil", err)
	}
	_ = stream.CloseSend()
	found := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		found[s.GetName()] = true
	}
	for _, want := range []string{bankv1.BankService_ServiceDesc.ServiceName, "grpc.health.v1.Health"} {
		if !found[want] {
			t.Errorf("reflection services = %v, want %s among them", found, want)
		}
	}
}
