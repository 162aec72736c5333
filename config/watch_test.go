package config

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// watchFile starts Watch on dir/tagbridge.yaml and returns a channel that
// receives one value per onChange call, and a stop function that waits for
// Watch to return.
func watchFile(t *testing.T, initial string) (path string, changes <-chan struct{}, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "tagbridge.yaml")
	if err := os.WriteFile(path, []byte(initial), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{}, 16)
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		close(ready)
		done <- Watch(ctx, path, func() { ch <- struct{}{} })
	}()
	<-ready
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Watch did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return path, ch, stop
}

// expectChange writes with write until onChange fires: the watcher may not be
// registered yet when the first write happens, so the write is repeated with
// new content a bounded number of times.
func expectChange(t *testing.T, changes <-chan struct{}, write func(i int)) {
	t.Helper()
	for i := 0; i < 20; i++ {
		write(i)
		select {
		case <-changes:
			return
		case <-time.After(4 * WatchDebounce):
		}
	}
	t.Fatal("no onChange after 20 writes")
}

func TestWatchWrite(t *testing.T) {
	t.Parallel()
	path, changes, stop := watchFile(t, "gateway: {name: a}\n")
	expectChange(t, changes, func(i int) {
		if err := os.WriteFile(path, []byte("gateway: {name: b"+string(rune('a'+i%26))+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if err := stop(); err != nil {
		t.Fatalf("Watch returned %v after cancel, want nil", err)
	}
}

// Editors save by writing a temporary file and renaming it over the old one.
func TestWatchRenameOver(t *testing.T) {
	t.Parallel()
	path, changes, _ := watchFile(t, "gateway: {name: a}\n")
	expectChange(t, changes, func(i int) {
		tmp := filepath.Join(filepath.Dir(path), ".tagbridge.yaml.swp")
		if err := os.WriteFile(tmp, []byte("gateway: {name: renamed"+string(rune('a'+i%26))+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	})
}

// Rewriting the same bytes, touching the file, or writing another file in the
// directory is not a change; a real change after them is reported once.
func TestWatchIgnoresNonChanges(t *testing.T) {
	t.Parallel()
	const content = "gateway: {name: same}\n"
	path, changes, _ := watchFile(t, content)
	dir := filepath.Dir(path)
	// Make sure the watcher runs: one real change first.
	expectChange(t, changes, func(i int) {
		os.WriteFile(path, []byte(content+"# "+string(rune('a'+i%26))+"\n"), 0o644)
	})
	final, _ := os.ReadFile(path)
	for i := 0; i < 3; i++ {
		os.WriteFile(path, final, 0o644)
		os.WriteFile(filepath.Join(dir, "other.yaml"), []byte{byte(i)}, 0o644)
		now := time.Now()
		os.Chtimes(path, now, now)
	}
	os.WriteFile(path, []byte("gateway: {name: changed}\n"), 0o644)
	select {
	case <-changes:
	case <-time.After(10 * time.Second):
		t.Fatal("the real change was not reported")
	}
	// Nothing else is pending: the same-content writes produced no call.
	select {
	case <-changes:
		t.Fatal("onChange called for a write that changed nothing")
	case <-time.After(3 * WatchDebounce):
	}
}

func TestWatchMissingDir(t *testing.T) {
	t.Parallel()
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope", "tagbridge.yaml"), func() {})
	if err == nil {
		t.Fatal("want an error for a directory that does not exist")
	}
}
