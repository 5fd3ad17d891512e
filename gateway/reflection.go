package gateway

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// services lists what reflection reports: every routed service, health and
// reflection itself.
type services struct{ g *Gateway }

func (s services) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	for name := range s.g.routes {
		out[name] = grpc.ServiceInfo{}
	}
	for name, info := range s.g.grpcServer.GetServiceInfo() {
		out[name] = info
	}
	return out
}

// registerReflection serves gRPC server reflection (v1 and v1alpha) for the
// services the gateway exposes, from the descriptors compiled into the
// binary, so `grpcurl list` and `grpcurl describe` work without a protoset.
func (g *Gateway) registerReflection() {
	opts := reflection.ServerOptions{
		Services:           services{g: g},
		DescriptorResolver: protoregistry.GlobalFiles,
		ExtensionResolver:  protoregistry.GlobalTypes,
	}
	reflectionv1.RegisterServerReflectionServer(g.grpcServer, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(g.grpcServer, reflection.NewServer(opts))
}
