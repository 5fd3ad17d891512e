package bank

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// DelayKey is the request metadata key of the delay hook: a Go duration
// such as "250ms" that the call waits before it is handled.
const DelayKey = "x-bank-delay"

// maxDelay bounds the delay hook so a typo cannot park a call for hours.
const maxDelay = time.Minute

var errDelay = status.Error(codes.InvalidArgument, "x-bank-delay must be a duration between 0 and 1m")

// delay waits for the duration in ctx's x-bank-delay metadata, if any. If
// ctx ends first it counts the call in s.cancelled and returns ctx's status.
func (s *Server) delay(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(DelayKey)
	if len(v) == 0 {
		return nil
	}
	d, err := time.ParseDuration(v[0])
	if err != nil || d < 0 || d > maxDelay {
		return errDelay
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		s.cancelled.Add(1)
		return status.FromContextError(ctx.Err()).Err()
	}
}

// serviceDesc returns a copy of the generated service descriptor in which
// every handler first runs the echo interceptor and then the delay hook.
// Wrapping the handlers, rather than adding server options, puts the hooks
// on any registrar, inside whatever interceptors that server has.
func (s *Server) serviceDesc() *grpc.ServiceDesc {
	desc := bankv1.BankService_ServiceDesc
	echoUnary, echoStream := EchoUnaryInterceptor(), EchoStreamInterceptor()

	desc.Methods = make([]grpc.MethodDesc, len(bankv1.BankService_ServiceDesc.Methods))
	for i, m := range bankv1.BankService_ServiceDesc.Methods {
		orig := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, outer grpc.UnaryServerInterceptor) (any, error) {
			// The generated handler calls the server's own interceptor
			// chain (outer, possibly nil) only if it gets one; always
			// give it one that runs outer, then echo, then the delay.
			chained := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				hooked := func(ctx context.Context, req any) (any, error) {
					return echoUnary(ctx, req, info, func(ctx context.Context, req any) (any, error) {
						if err := s.delay(ctx); err != nil {
							return nil, err
						}
						return h(ctx, req)
					})
				}
				if outer == nil {
					return hooked(ctx, req)
				}
				return outer(ctx, req, info, hooked)
			}
			return orig(srv, ctx, dec, chained)
		}
		desc.Methods[i] = m
	}

	desc.Streams = make([]grpc.StreamDesc, len(bankv1.BankService_ServiceDesc.Streams))
	for i, sd := range bankv1.BankService_ServiceDesc.Streams {
		orig := sd.Handler
		info := &grpc.StreamServerInfo{
			FullMethod:     "/" + desc.ServiceName + "/" + sd.StreamName,
			IsClientStream: sd.ClientStreams,
			IsServerStream: sd.ServerStreams,
		}
		// Server stream interceptors already ran around this handler.
		sd.Handler = func(srv any, ss grpc.ServerStream) error {
			return echoStream(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
				if err := s.delay(ss.Context()); err != nil {
					return err
				}
				return orig(srv, ss)
			})
		}
		desc.Streams[i] = sd
	}
	return &desc
}
