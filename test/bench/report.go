package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// machine describes where the numbers were measured.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		model = cpuModel(string(b))
	}
	rev := "unknown"
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		rev = strings.TrimSpace(string(out))
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			load = f[0]
		}
	}
	return fmt.Sprintf("%d cores, %s, %s %s/%s, tagbridge %s, %s, load average %s at start", runtime.NumCPU(), model,
		runtime.Version(), runtime.GOOS, runtime.GOARCH, rev, time.Now().UTC().Format("2006-01-02 15:04 UTC"), load)
}

// cpuModel returns the first "model name" of /proc/cpuinfo text.
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// block is what goes between the markers.
func block(rows []*result, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured on: %s.\n\nCommand: `%s`\n\n", machine(), command)
	b.WriteString(markdownTable(rows))
	return b.String()
}

// replaceBlock puts body between the markers of doc; a doc without them
// gets them appended. A marker counts only on a line of its own, so that
// the docs may mention the markers in text.
func replaceBlock(doc, body string) (string, error) {
	i := markerLine(doc, beginMarker)
	j := markerLine(doc, endMarker)
	switch {
	case i < 0 && j < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		return doc + "\n" + beginMarker + "\n" + body + endMarker + "\n", nil
	case i < 0 || j < i:
		return "", errors.New("benchmarks doc: markers missing or out of order")
	}
	return doc[:i+len(beginMarker)] + "\n" + body + doc[j:], nil
}

// markerLine is the offset of the first line of doc that is exactly m
// (trailing spaces allowed), or -1.
func markerLine(doc, m string) int {
	off := 0
	for line := range strings.Lines(doc) {
		if strings.TrimRight(line, " \t\r\n") == m {
			return off
		}
		off += len(line)
	}
	return -1
}

// writeDoc updates the Markdown file at path.
func writeDoc(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc, err := replaceBlock(string(old), body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
