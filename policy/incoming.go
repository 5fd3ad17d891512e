package policy

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// Reading incoming metadata key by key. grpc-go's
// metadata.ValueFromIncomingContext copies the values it finds and, for a
// key the call does not carry, walks every key of the metadata comparing
// case-insensitively (it cannot know the map has lowercase keys). The
// stages read a dozen keys a call, most of them absent (internal keys,
// API-key and forwarding headers), which cost more than all the stages'
// own work on a typical call.
//
// WithIncoming replaces the incoming metadata once, at the top of the
// chain, and remembers the map; IncomingValue then reads a key with one
// map lookup and no copy. Keys in metadata received by a grpc-go server
// are lowercase (HTTP/2 requires it); the keys passed to IncomingValue
// must be too.

type (
	incomingKey struct{}
	strippedKey struct{}
)

// incomingCtx is metadata.NewIncomingContext(parent, md) plus md under
// incomingKey, in one context node.
type incomingCtx struct {
	context.Context
	md metadata.MD
	// stripped: set by WithStrippedIncoming. Answered by the nearest
	// incomingCtx only, so a later WithIncoming does not inherit it.
	stripped bool
}

func (c *incomingCtx) Value(key any) any {
	switch key {
	case incomingKey{}:
		return c.md
	case strippedKey{}:
		return c.stripped
	}
	return c.Context.Value(key)
}

// WithIncoming returns ctx with md as its incoming metadata (as
// metadata.NewIncomingContext), readable without copies by IncomingValue.
// md must have lowercase keys and must not change afterwards; to change
// the metadata, call WithIncoming again with a new map.
func WithIncoming(ctx context.Context, md metadata.MD) context.Context {
	return &incomingCtx{Context: metadata.NewIncomingContext(ctx, md), md: md}
}

// WithStrippedIncoming is WithIncoming for metadata whose internal keys
// have been dealt with where the call entered the gateway: removed from a
// client's metadata (StripInternal) or set by the gateway's own REST
// front. The gateway's first stage then uses md as it is
// (IncomingStripped) instead of copying the metadata to strip it.
func WithStrippedIncoming(ctx context.Context, md metadata.MD) context.Context {
	return &incomingCtx{Context: metadata.NewIncomingContext(ctx, md), md: md, stripped: true}
}

// IncomingStripped reports whether ctx's incoming metadata, as
// IncomingValue reads it, was stored by WithStrippedIncoming (and not
// replaced since by WithIncoming). The mark is trusted, not checked:
// metadata attached above it with metadata.NewIncomingContext would not
// clear it, so code that sets incoming metadata must use WithIncoming.
func IncomingStripped(ctx context.Context) bool {
	s, _ := ctx.Value(strippedKey{}).(bool)
	return s
}

// IncomingValue returns the values of key (lowercase) in ctx's incoming
// metadata. The slice is shared with the metadata: callers must not modify
// it. When the metadata was not set by WithIncoming (a stage used in
// another server), it falls back to metadata.ValueFromIncomingContext.
func IncomingValue(ctx context.Context, key string) []string {
	if md, ok := ctx.Value(incomingKey{}).(metadata.MD); ok {
		return md[key]
	}
	return metadata.ValueFromIncomingContext(ctx, key)
}

// Incoming returns the incoming metadata WithIncoming stored in ctx, shared,
// not copied: callers must not modify it. Without WithIncoming it returns
// metadata.FromIncomingContext's copy.
func Incoming(ctx context.Context) (metadata.MD, bool) {
	if md, ok := ctx.Value(incomingKey{}).(metadata.MD); ok {
		return md, true
	}
	return metadata.FromIncomingContext(ctx)
}

// IsMetadataText reports whether v is a valid gRPC metadata value for a
// non-binary key: printable ASCII (0x20–0x7E) only.
func IsMetadataText(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// MetadataText returns v with every byte outside printable ASCII replaced
// by '?', a valid value for any non-binary key (v itself when it is one).
func MetadataText(v string) string {
	if IsMetadataText(v) {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
