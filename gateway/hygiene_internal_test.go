package gateway

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/tap"

	"github.com/portcullis/portcullis/gateway/inproc"
	"github.com/portcullis/portcullis/policy"
)

// TestStripInternalKeys: every internal key a stage reads, the signature
// keys included, is removed from a client's metadata before the chain
// sees it (a gRPC client cannot claim a verified REST signature or a
// signature refusal of its choosing).
func TestStripInternalKeys(t *testing.T) {
	for _, k := range []string{policy.KeySignatureKey, policy.KeySignatureFailure, policy.KeyTransport, policy.KeyClientAddr} {
		md := metadata.Pairs(k, "spoofed", "x-other", "kept")
		ctx := stripInternal(metadata.NewIncomingContext(context.Background(), md))
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) != 0 {
			t.Errorf("%s after stripInternal = %v, want removed", k, v)
		}
		if v := metadata.ValueFromIncomingContext(ctx, "x-other"); len(v) != 1 {
			t.Errorf("x-other after stripInternal = %v, want kept", v)
		}
	}
}

// TestLimitMetadataStrips: the tap hands the stages a client's metadata
// without its internal keys (a stripped copy, leaving grpc-go's map as it
// was), or grpc-go's own map when it holds none, so the strip stage passes
// the call on without copying (and allocating) again; a call over the
// gateway's in-memory connection keeps its keys.
func TestLimitMetadataStrips(t *testing.T) {
	md := metadata.Pairs(policy.KeyClientAddr, "10.1.2.3:5", policy.KeyTransport, policy.TransportHTTP, "x-other", "kept")
	ctx, err := limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M", Header: md})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md[policy.KeyClientAddr]; !ok {
		t.Error("tap wrote grpc-go's map")
	}
	if !policy.IncomingStripped(ctx) {
		t.Fatal("tap context not marked stripped")
	}
	for _, k := range []string{policy.KeyClientAddr, policy.KeyTransport} {
		if v := policy.IncomingValue(ctx, k); len(v) != 0 {
			t.Errorf("IncomingValue(%s) = %v, want none", k, v)
		}
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) != 0 {
			t.Errorf("grpc-go view of %s = %v, want none", k, v)
		}
	}
	if v := policy.IncomingValue(ctx, "x-other"); len(v) != 1 {
		t.Errorf("x-other = %v, want kept", v)
	}
	if got := stripInternal(ctx); got != ctx {
		t.Error("stripInternal replaced a context the tap stripped")
	}
	if n := testing.AllocsPerRun(100, func() { _ = stripInternal(ctx) }); n != 0 {
		t.Errorf("stripInternal after the tap: %v allocations, want 0", n)
	}
	// A later WithIncoming (another map) is not taken as stripped.
	if policy.IncomingStripped(policy.WithIncoming(ctx, metadata.Pairs(policy.KeyClientAddr, "x"))) {
		t.Error("WithIncoming over a stripped context reports stripped")
	}

	// Without internal keys the stages get grpc-go's map itself.
	clean := metadata.Pairs("x-other", "kept")
	ctx, err = limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M", Header: clean})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := policy.Incoming(ctx); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(clean).UnsafePointer() {
		t.Error("tap copied metadata that holds no internal key")
	}

	internal := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: inproc.AuthInfo{}})
	md = metadata.Pairs(policy.KeyClientAddr, "192.0.2.1:7")
	ctx, err = limitMetadata(internal, &tap.Info{FullMethodName: "/s/M", Header: md})
	if err != nil {
		t.Fatal(err)
	}
	if v := policy.IncomingValue(ctx, policy.KeyClientAddr); len(v) != 1 {
		t.Errorf("internal call's %s = %v, want kept", policy.KeyClientAddr, v)
	}

	// No metadata at all still gives the stages a (empty) map.
	ctx, err = limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M"})
	if err != nil || !policy.IncomingStripped(ctx) {
		t.Fatalf("empty metadata: stripped %v, err %v", policy.IncomingStripped(ctx), err)
	}
	if md, ok := policy.Incoming(ctx); !ok || md == nil {
		t.Errorf("empty metadata: Incoming = %v, %v", md, ok)
	}

	// Over the limits: refused, nothing stripped or marked.
	big := metadata.MD{}
	for i := range maxMetadataEntries + 1 {
		big.Append(fmt.Sprintf("k%d", i), "v")
	}
	if _, err := limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M", Header: big}); err == nil {
		t.Error("over-limit metadata passed the tap")
	}
}

// TestStripStream: a stream the tap marked reaches the next stage as it
// is; an unmarked one (no tap: another server, a test) has its internal
// keys removed from what the stages and grpc-go's metadata functions read.
func TestStripStream(t *testing.T) {
	var got grpc.ServerStream
	next := func(_ any, ss grpc.ServerStream) error { got = ss; return nil }

	marked, _ := limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M", Header: metadata.Pairs("x-other", "1")})
	ss := &ctxStream{ctx: marked}
	if err := stripStream(nil, ss, nil, next); err != nil {
		t.Fatal(err)
	}
	if got != grpc.ServerStream(ss) {
		t.Error("a marked stream was wrapped")
	}

	unmarked := metadata.NewIncomingContext(context.Background(), metadata.Pairs(policy.KeyClientAddr, "10.1.2.3:5", "x-other", "1"))
	if err := stripStream(nil, &ctxStream{ctx: unmarked}, nil, next); err != nil {
		t.Fatal(err)
	}
	if v := policy.IncomingValue(got.Context(), policy.KeyClientAddr); len(v) != 0 {
		t.Errorf("unmarked stream: stages read %s = %v", policy.KeyClientAddr, v)
	}
	if v := metadata.ValueFromIncomingContext(got.Context(), policy.KeyClientAddr); len(v) != 0 {
		t.Errorf("unmarked stream: grpc-go view of %s = %v", policy.KeyClientAddr, v)
	}
}

// ctxStream is a grpc.ServerStream with a given context.
type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// TestNoBareNewIncomingContext: the strip stage trusts the tap's mark
// (policy.IncomingStripped), which metadata attached above it with
// metadata.NewIncomingContext would not clear; gateway and interceptor code
// sets incoming metadata through policy.WithIncoming only.
func TestNoBareNewIncomingContext(t *testing.T) {
	for _, dir := range []string{".", "../interceptors"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewIncomingContext" {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "metadata" {
						t.Errorf("%s: metadata.NewIncomingContext; use policy.WithIncoming", path)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
