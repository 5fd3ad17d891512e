package requestid

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"
)

// TestWithoutMetadataRewrite: the ids are resolved as usual, but the
// incoming metadata stays as the client sent it.
func TestWithoutMetadataRewrite(t *testing.T) {
	o := evaluateOptions([]Option{WithoutMetadataRewrite()})
	in := metadata.Pairs(RequestIDKey, "bad id with spaces", TraceParentKey, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	c := o.resolve(metadata.NewIncomingContext(context.Background(), in))
	ctx, header := context.Context(c), c.header()
	info, ok := FromContext(ctx)
	if !ok || info.RequestID == "bad id with spaces" || len(info.RequestID) != 32 || info.TraceID != "0af7651916cd43dd8448eb211c80319c" || info.ParentSpanID != "b7ad6b7169203331" {
		t.Fatalf("FromContext() = %+v, want a generated id and the continued trace", info)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get(RequestIDKey); len(got) != 1 || got[0] != "bad id with spaces" {
		t.Errorf("incoming %s = %v, want the client's value untouched", RequestIDKey, got)
	}
	if got := header.Get(RequestIDKey); len(got) != 1 || got[0] != info.RequestID {
		t.Errorf("header %s = %v, want %s", RequestIDKey, got, info.RequestID)
	}
}
