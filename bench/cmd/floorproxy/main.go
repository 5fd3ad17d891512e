// Command floorproxy is the benchmark's "raw floor": the least a grpc-go
// proxy can do. One grpc.Server whose UnknownServiceHandler pumps raw
// message bytes to one backend over one plaintext connection: no
// interceptors, no policy, no routing, no metrics. benche2e measures the
// gateway's CPU per request against it.
//
//	floorproxy --listen 127.0.0.1:PORT --backend 127.0.0.1:PORT
//
// SIGINT or SIGTERM stops it at once.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/gateway/config"
)

// frame is one message in wire form; codec moves its buffers without copying.
type frame struct{ data mem.BufferSlice }

// codec passes frames through untouched. Its name is "proto" so the wire
// content-type stays application/grpc.
type codec struct{}

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	f := v.(*frame)
	f.data.Ref() // grpc-go frees the returned slice after writing; the frame keeps its own reference
	return f.data, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	f := v.(*frame)
	f.data.Free() // release the previous message
	data.Ref()    // grpc-go drops its reference when Unmarshal returns
	f.data = data
	return nil
}

func (codec) Name() string { return "proto" }

var desc = grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (plaintext h2c)")
	backend := flag.String("backend", "", "backend host:port (plaintext h2c)")
	minHeap := flag.Int64("gc-min-heap-bytes", -1, "heap floor of the garbage collector, as the gateway's runtime.gc_min_heap_bytes (-1: none, Go's plain behaviour)")
	flag.Parse()
	// GOGC as the runtime read it; the heap floor as the gateway applies
	// its own, so the harness can run both with the same GC settings.
	config.ApplyRuntime(config.Runtime{GCMinHeapBytes: *minHeap})
	conn, err := grpc.NewClient(*backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorproxy:", err)
		os.Exit(1)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorproxy:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(codec{}), grpc.UnknownServiceHandler(pump(conn)))
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Stop()
	}()
	_ = srv.Serve(lis)
}

// pump forwards one call of any shape: requests in a goroutine, responses
// (header, messages, trailer, status) in the handler's own.
func pump(conn *grpc.ClientConn) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		md, _ := metadata.FromIncomingContext(ss.Context())
		// grpc-go itself drops pseudo-headers and reserved keys from outgoing metadata.
		cs, err := conn.NewStream(metadata.NewOutgoingContext(ss.Context(), md), &desc, method, grpc.ForceCodecV2(codec{}))
		if err != nil {
			return err
		}
		go func() {
			var f frame
			defer f.data.Free()
			for {
				if err := ss.RecvMsg(&f); err != nil {
					_ = cs.CloseSend() // io.EOF: client half-closed; otherwise the response side fails too
					return
				}
				if cs.SendMsg(&f) != nil {
					return // the backend ended the call; its status arrives via RecvMsg below
				}
			}
		}()
		var f frame
		defer f.data.Free()
		if hdr, err := cs.Header(); err == nil && hdr != nil {
			_ = ss.SendHeader(hdr)
		}
		for {
			if err := cs.RecvMsg(&f); err != nil {
				ss.SetTrailer(cs.Trailer())
				if err == io.EOF {
					return nil
				}
				return err // the backend's status, unchanged
			}
			if err := ss.SendMsg(&f); err != nil {
				return err
			}
		}
	}
}
