package service

import "bytes"

// Event Log severities for one log line.
const (
	sevInfo = iota
	sevWarning
	sevError
)

// maxEventLen keeps a message under the Event Log's limit of 31,839
// characters per string.
const maxEventLen = 31000

// severity finds the slog level in one text or JSON log line, so that
// warnings and errors show with the right icon in the Event Viewer.
func severity(line []byte) int {
	switch {
	case bytes.Contains(line, []byte("level=ERROR")), bytes.Contains(line, []byte(`"level":"ERROR"`)):
		return sevError
	case bytes.Contains(line, []byte("level=WARN")), bytes.Contains(line, []byte(`"level":"WARN"`)):
		return sevWarning
	}
	return sevInfo
}

// eventText trims the trailing newline and bounds the length of a message.
func eventText(line []byte) string {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > maxEventLen {
		line = append(line[:maxEventLen:maxEventLen], "..."...)
	}
	return string(bytes.ToValidUTF8(line, []byte("\uFFFD")))
}
