package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchDebounce is how long Watch waits after the last event before it looks
// at the file: editors and deploy tools write in several steps.
const WatchDebounce = 250 * time.Millisecond

// Watch calls onChange each time the content of the file at path changes,
// until ctx is done; then it returns nil. It returns an error only when
// watching cannot start or fails.
//
// It watches the file's directory, not the file: editors save by writing a
// new file and renaming it over the old one, and Kubernetes swaps a symlink,
// and a watch on the old inode would see none of that. Events are debounced
// (WatchDebounce after the last one, at most 4x that after the first of a
// burst) and onChange is called only when the bytes differ from the
// last ones seen, so a save without changes, a touch, or a write to another
// file in the directory does nothing. A removed file is not a change (the
// running config stays); its reappearance with new content is.
//
// onChange runs on Watch's goroutine, one call at a time; it should validate
// before applying (Load does).
func Watch(ctx context.Context, path string, onChange func()) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	last, _ := os.ReadFile(abs) // read after Add: a write in between is not missed

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var first time.Time // first event of the current burst; zero when idle
	settle := func() {
		// Trailing debounce, but a file rewritten without pause is still
		// looked at within 4 debounce periods.
		if first.IsZero() {
			first = time.Now()
		}
		wait := WatchDebounce
		if rest := 4*WatchDebounce - time.Since(first); rest < wait {
			wait = max(rest, 0)
		}
		timer.Reset(wait)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			settle()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				settle() // events were lost: look at the file
				continue
			}
			return fmt.Errorf("config: watch %s: %w", path, err)
		case <-timer.C:
			first = time.Time{}
			data, err := os.ReadFile(abs)
			if err != nil || bytes.Equal(data, last) {
				continue
			}
			last = data
			onChange()
		}
	}
}
