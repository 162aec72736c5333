package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// stream follows /sample?interval=..&heartbeat=..: the agent answers with an
// endless multipart/x-mixed-replace (or multipart/mixed) body, one
// MTConnectStreams document per part, and a heartbeat part (no observations)
// whenever nothing changed for heartbeat. A silence of two heartbeats ends the
// stream with errHeartbeat.
func (d *device) stream(ctx context.Context, s *session) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost atomic.Bool
	silence := 2 * d.opt.Heartbeat
	wd := time.AfterFunc(silence+d.opt.Timeout, func() { lost.Store(true); cancel() })
	defer wd.Stop()
	failed := func(err error) error {
		if lost.Load() {
			return fmt.Errorf("mtconnect %s: %w", d.name, errHeartbeat)
		}
		return fmt.Errorf("mtconnect %s: stream: %w", d.name, err)
	}

	q := s.sampleQuery()
	q.Set("interval", strconv.FormatInt(d.opt.Interval.Milliseconds(), 10))
	q.Set("heartbeat", strconv.FormatInt(d.opt.Heartbeat.Milliseconds(), 10))
	u := d.endpoint(s.probe.Device, "sample", q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("mtconnect %s: GET %s: %w", d.name, u, err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return failed(fmt.Errorf("GET %s: %w", u, err))
	}
	defer resp.Body.Close()

	mt, params, perr := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if perr != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return d.notMultipart(s, resp, u, failed)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == nil {
			var b []byte
			if b, err = readPart(p); err == nil {
				wd.Reset(silence)
				var doc *streamsDoc
				if doc, err = parseStreams(b, s.probe.Device); err == nil {
					if err := d.applySamples(s, doc); err != nil {
						return err
					}
					continue
				}
				d.noteDocError(err)
				if ctrl := d.agentRecover(err, s); ctrl != nil {
					return ctrl
				}
				var ae *AgentError
				if errors.As(err, &ae) {
					return fmt.Errorf("mtconnect %s: GET %s: %w", d.name, u, err)
				}
			}
		}
		if parts == 0 && !lost.Load() && ctx.Err() == nil {
			return fmt.Errorf("%w: %v", errFallback, err)
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("the agent ended the stream")
		}
		return failed(err)
	}
}

// notMultipart handles a /sample?interval answer that is not a multipart
// stream: an agent error, or a plain document from an agent that does not
// stream (applied, then errFallback so the follower polls).
func (d *device) notMultipart(s *session, resp *http.Response, u string, failed func(error) error) error {
	b, err := readLimited(resp.Body)
	if err != nil {
		return failed(fmt.Errorf("GET %s: %w", u, err))
	}
	doc, err := parseStreams(b, s.probe.Device)
	if err != nil {
		d.noteDocError(err)
		if ctrl := d.agentRecover(err, s); ctrl != nil {
			return ctrl
		}
		var ae *AgentError
		if errors.As(err, &ae) {
			return fmt.Errorf("mtconnect %s: GET %s: %w", d.name, u, err)
		}
		return fmt.Errorf("%w: %s answered %q: %v", errFallback, u, resp.Header.Get("Content-Type"), docError(err, resp.StatusCode))
	}
	if err := d.applySamples(s, doc); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s answered %q", errFallback, u, resp.Header.Get("Content-Type"))
}

// readPart reads one part. With a Content-Length (every agent sends one) it
// reads exactly that, so the part is handled as soon as it arrived rather
// than when the next boundary shows up.
func readPart(p *multipart.Part) ([]byte, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(p.Header.Get("Content-Length"))); err == nil && n >= 0 {
		if n > maxDocument {
			return nil, fmt.Errorf("stream part of %d bytes exceeds %d", n, maxDocument)
		}
		b := make([]byte, n)
		got, err := io.ReadFull(p, b)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("stream part: %w", err)
		}
		return b[:got], nil // a Content-Length past the part's end: keep what the part held
	}
	return readLimited(p)
}
