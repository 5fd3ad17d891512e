package gateway

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoreflect"
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
		DescriptorResolver: resolver{g: g},
		ExtensionResolver:  protoregistry.GlobalTypes,
	}
	reflectionv1.RegisterServerReflectionServer(g.grpcServer, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(g.grpcServer, reflection.NewServer(opts))
}

// resolver finds descriptors compiled into the binary first, then in the
// configured descriptor sets.
type resolver struct{ g *Gateway }

func (r resolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err == nil {
		return fd, nil
	}
	for _, f := range r.g.extFiles {
		if fd, e := f.FindFileByPath(path); e == nil {
			return fd, nil
		}
	}
	return nil, err
}

func (r resolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err == nil {
		return d, nil
	}
	for _, f := range r.g.extFiles {
		if d, e := f.FindDescriptorByName(name); e == nil {
			return d, nil
		}
	}
	return nil, err
}
