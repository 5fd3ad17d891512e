package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fallbackPoll is the poll interval used when file-system notifications
// are unavailable and polling was turned off: a source must not go deaf.
const fallbackPoll = 10 * time.Second

// watchDir calls check on every file-system event in dir and on every
// poll tick, until ctx is done. Events force check to hash the files
// (force=true) because an in-place rewrite can keep the size and, on
// coarse file systems, the modification time; ticks compare modification
// time and size first and hash only what changed.
//
// The directory is watched rather than the file: an atomic replacement
// (rename over the file, or a ConfigMap's symlink swap) gives the file a
// new inode, and a watch on the old inode would never fire again.
func watchDir(ctx context.Context, dir string, o sourceOptions, check func(force bool)) {
	poll := o.poll
	var events <-chan fsnotify.Event
	var errs <-chan error
	if o.watch {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			err = w.Add(dir)
		}
		if err == nil {
			defer func() { _ = w.Close() }()
			events, errs = w.Events, w.Errors
		} else if w != nil {
			_ = w.Close()
		}
	}
	if events == nil && poll <= 0 {
		poll = fallbackPoll
	}
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			check(true)
		case _, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow or a watch error may hide a change.
			check(true)
		case <-tick:
			check(false)
		}
	}
}

// probe remembers what it saw of files, so that a poll tick hashes only
// files whose modification time or size changed. It is used by one
// goroutine.
type probe map[string]memo

type memo struct {
	mod  time.Time
	size int64
	sum  string
}

// state returns a string that changes when the content of path changes
// (or it appears or disappears). With force it hashes regardless of the
// file's modification time and size.
func (p probe) state(path string, force bool) string {
	st, err := os.Stat(path)
	if err != nil {
		delete(p, path)
		return "absent"
	}
	if m, ok := p[path]; ok && !force && m.mod.Equal(st.ModTime()) && m.size == st.Size() {
		return m.sum
	}
	data, err := readBounded(path, maxFileBytes)
	if err != nil {
		delete(p, path)
		return "unreadable"
	}
	sum := sha256.Sum256(data)
	m := memo{mod: st.ModTime(), size: st.Size(), sum: hex.EncodeToString(sum[:])}
	p[path] = m
	return m.sum
}
