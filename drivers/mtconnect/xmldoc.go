package mtconnect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The XML structs below name elements and attributes without a namespace, so
// encoding/xml matches them by local name: urn:mtconnect.org:MTConnectDevices:1.3
// and :2.2 documents decode alike.

// header is the Header of any MTConnect response document.
type header struct {
	InstanceID    string `xml:"instanceId,attr"`
	Version       string `xml:"version,attr"`
	BufferSize    string `xml:"bufferSize,attr"`
	FirstSequence string `xml:"firstSequence,attr"`
	LastSequence  string `xml:"lastSequence,attr"`
	NextSequence  string `xml:"nextSequence,attr"`
	CreationTime  string `xml:"creationTime,attr"`
}

// seqHeader is the decoded Header of a response.
type seqHeader struct {
	InstanceID    string
	Version       string
	BufferSize    uint64
	FirstSequence uint64
	LastSequence  uint64
	NextSequence  uint64
}

func (h header) decode() (seqHeader, error) {
	out := seqHeader{InstanceID: strings.TrimSpace(h.InstanceID), Version: strings.TrimSpace(h.Version)}
	for _, f := range []struct {
		name string
		s    string
		dst  *uint64
	}{
		{"bufferSize", h.BufferSize, &out.BufferSize},
		{"firstSequence", h.FirstSequence, &out.FirstSequence},
		{"lastSequence", h.LastSequence, &out.LastSequence},
		{"nextSequence", h.NextSequence, &out.NextSequence},
	} {
		s := strings.TrimSpace(f.s)
		if s == "" {
			continue
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return out, fmt.Errorf("header %s=%q: not a sequence number", f.name, s)
		}
		*f.dst = v
	}
	return out, nil
}

// rootName returns the local name of the document's root element, skipping
// the prolog, comments and whitespace.
func rootName(b []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", errors.New("empty document")
			}
			return "", err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// decodeRoot checks the root element and unmarshals b into v. An
// MTConnectError document becomes an *AgentError.
func decodeRoot(b []byte, want string, v any) error {
	root, err := rootName(b)
	if err != nil {
		return fmt.Errorf("malformed XML: %w", err)
	}
	switch root {
	case want:
	case "MTConnectError":
		return parseError(b)
	default:
		return fmt.Errorf("malformed XML: root element %s, want %s", root, want)
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("malformed XML: %w", err)
	}
	return nil
}

// AgentError is an MTConnectError document returned by the agent.
type AgentError struct {
	Code    string // errorCode, e.g. OUT_OF_RANGE, NO_DEVICE
	Message string
	More    []AgentError // further errors of the same document
}

func (e *AgentError) Error() string {
	s := "agent error " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if len(e.More) > 0 {
		s += fmt.Sprintf(" (+%d more)", len(e.More))
	}
	return s
}

// Agent error codes (MTConnect Part 1, Errors).
const (
	CodeInvalidXPath   = "INVALID_XPATH"
	CodeNoDevice       = "NO_DEVICE"
	CodeTooMany        = "TOO_MANY"
	CodeQueryError     = "QUERY_ERROR"
	CodeUnsupported    = "UNSUPPORTED"
	CodeInvalidRequest = "INVALID_REQUEST"
	CodeOutOfRange     = "OUT_OF_RANGE"
	CodeInternalError  = "INTERNAL_ERROR"
	CodeAssetNotFound  = "ASSET_NOT_FOUND"
)

type xmlErrorEntry struct {
	XMLName      xml.Name
	ErrorCode    string `xml:"errorCode,attr"`
	Text         string `xml:",chardata"`
	ErrorMessage string `xml:"ErrorMessage"`
}

type xmlErrorDoc struct {
	Error  []xmlErrorEntry `xml:"Error"` // MTConnect 1.0: Error directly under the root
	Errors struct {
		Entries []xmlErrorEntry `xml:",any"` // 1.1+: <Error errorCode=...>; 2.6: <OutOfRange errorCode=...>
	} `xml:"Errors"`
}

func parseError(b []byte) error {
	var doc xmlErrorDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("malformed XML: MTConnectError: %w", err)
	}
	var all []AgentError
	for _, e := range append(doc.Error, doc.Errors.Entries...) {
		code := strings.TrimSpace(e.ErrorCode)
		if code == "" && e.XMLName.Local != "Error" {
			code = upperSnake(e.XMLName.Local)
		}
		if code == "" {
			code = "UNKNOWN"
		}
		msg := strings.TrimSpace(e.ErrorMessage)
		if msg == "" {
			msg = strings.TrimSpace(e.Text)
		}
		all = append(all, AgentError{Code: code, Message: msg})
	}
	if len(all) == 0 {
		return &AgentError{Code: "UNKNOWN", Message: "MTConnectError without errors"}
	}
	first := all[0]
	first.More = all[1:]
	return &first
}

// upperSnake turns OutOfRange into OUT_OF_RANGE (MTConnect 2.6 error elements).
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// parseTime parses an agent timestamp (RFC 3339 with optional fraction; some
// 1.x agents omit the zone, which MTConnect defines as UTC).
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}
