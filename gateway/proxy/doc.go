// Package proxy is the transparent forwarding core of the Portcullis gateway:
// it relays gRPC calls to backends without decoding their messages.
//
// It is three separate things, each usable on its own:
//
//   - Routing: a [Director] picks the backend connection for a full method
//     name and shapes the outgoing metadata. [DirectorFunc] adapts a plain
//     function.
//   - Transport: [Handler] is a grpc.StreamHandler (for
//     grpc.UnknownServiceHandler) that pumps frames between the client's
//     server stream and a backend client stream, one message at a time.
//   - Encoding: [Codec] moves message bytes through untouched as [Frame]
//     values and falls back to protobuf for ordinary messages, so health,
//     reflection and the gateway's own services can share the server.
//
// [Pool] dials each backend [Target] once and reuses the connection.
//
// Policy (authentication, authorization, rate limits, audit) is not here: it
// runs as stream interceptors on the gateway server, in front of Handler.
//
// # Wiring
//
//	pool := proxy.NewPool(proxy.WithTransportCredentials(backendCreds))
//	defer pool.Close()
//	director := proxy.DirectorFunc(func(ctx context.Context, method string) (context.Context, grpc.ClientConnInterface, error) {
//		cc, err := pool.Conn(proxy.Target{Address: "orders.internal:8443"})
//		return ctx, cc, err
//	})
//	srv := grpc.NewServer(
//		grpc.ForceServerCodecV2(proxy.Codec{}),
//		grpc.UnknownServiceHandler(proxy.Handler(director)),
//	)
//
// # What is forwarded
//
// Each call is forwarded as one backend stream whatever its kind (unary,
// client-, server- or bidi-streaming): the backend's own method registration
// decides the shape. On the way in, the client's request metadata is copied
// to the backend except transport and hop-by-hop keys (see [Handler]). On the
// way back, response headers are sent to the client as soon as the backend
// sends them, then every message, then the backend's trailers and its exact
// status (code, message and details). The client's deadline travels as the
// backend call's deadline; cancellation travels both ways.
//
// # Flow control and memory
//
// Each direction holds at most one message at a time: the pump blocks in
// RecvMsg until a message arrives and in SendMsg until the other side's
// HTTP/2 flow-control window and grpc-go's per-stream write quota accept it.
// A slow reader therefore stalls the backend instead of growing a queue in
// the gateway. The message size limits of the gateway server (grpc.MaxRecvMsgSize,
// default 4 MiB) and of the backend connection ([WithMaxCallRecvMsgSize],
// [WithMaxCallSendMsgSize]) apply to forwarded messages.
//
// Message bytes are not copied: a received [Frame] keeps a reference to
// grpc-go's pooled receive buffers and hands the same buffers to the send
// path, which releases them once written.
//
// # Compression
//
// grpc-go decompresses every message it receives, so a Frame always holds
// uncompressed bytes and each hop compresses afresh. By default the backend
// call uses the compressor the client used (its grpc-encoding), so a gzip
// client produces gzip traffic to the backend; [WithCompressionMatching]
// turns that off. Responses to the client use the client's request encoding,
// which is grpc-go's default server behaviour. Compressing costs CPU at every
// hop; on a fast network to the backend, turning matching off is usually
// cheaper.
package proxy
