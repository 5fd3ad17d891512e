package secrets

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// redacted is what every printed, logged or encoded Secret reads.
const redacted = "[secret]"

// Secret is a resolved secret reference. Value returns its current value,
// which the Resolver refreshes in the background (file: and vault:
// references); everything else that turns a Secret into text (fmt verbs,
// String, GoString, slog, encoding/json, encoding.TextMarshaler) gives
// "[secret]". A Secret is a small handle: copies share one value. The
// zero Secret is empty. It is safe for concurrent use.
type Secret struct{ st *state }

type state struct {
	ref string
	val atomic.Pointer[string]

	mu       sync.Mutex
	watchers map[uint64]func(Secret)
	next     uint64
}

func newState(ref, v string) *state {
	st := &state{ref: ref, watchers: map[uint64]func(Secret){}}
	st.val.Store(&v)
	return st
}

// set stores v and, if it changed, calls the watchers (in the refreshing
// goroutine, one after another).
func (st *state) set(v string) {
	if old := st.val.Swap(&v); old != nil && *old == v {
		return
	}
	st.mu.Lock()
	ws := make([]func(Secret), 0, len(st.watchers))
	for _, f := range st.watchers {
		ws = append(ws, f)
	}
	st.mu.Unlock()
	for _, f := range ws {
		f(Secret{st})
	}
}

// Value returns the secret's current value ("" for the zero Secret). Read
// it where it is used, not once at start-up, to follow refreshes.
func (s Secret) Value() string {
	if s.st == nil {
		return ""
	}
	return *s.st.val.Load()
}

// Ref returns the reference the secret was resolved from, e.g.
// "vault:secret/portcullis/redis#password". It reveals nothing secret and
// is what errors and logs name.
func (s Secret) Ref() string {
	if s.st == nil {
		return ""
	}
	return s.st.ref
}

// Watch calls onChange with the secret after every refresh that changed
// its value, until ctx ends. onChange runs in the Resolver's refresh
// goroutine and should return quickly (reconnect in the background).
// Watch on the zero Secret does nothing.
func (s Secret) Watch(ctx context.Context, onChange func(Secret)) {
	if s.st == nil || onChange == nil {
		return
	}
	st := s.st
	st.mu.Lock()
	id := st.next
	st.next++
	st.watchers[id] = onChange
	st.mu.Unlock()
	context.AfterFunc(ctx, func() {
		st.mu.Lock()
		delete(st.watchers, id)
		st.mu.Unlock()
	})
}

// String returns "[secret]".
func (s Secret) String() string { return redacted }

// GoString returns "[secret]", for %#v.
func (s Secret) GoString() string { return redacted }

// Format prints "[secret]" for every verb and flag, so that no fmt verb
// (%x, %q, %+v, ...) can reach the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue returns "[secret]" for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns the JSON string "[secret]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[secret]", for YAML and other text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
