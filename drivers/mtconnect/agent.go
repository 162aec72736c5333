package mtconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxDocument bounds one response document (a probe of a large cell is a few MB).
const maxDocument = 64 << 20

// endpoint is the URL of request op ("probe", "current", "sample") for device
// ("" for the whole agent).
func (d *device) endpoint(device, op string, q url.Values) string {
	elems := []string{op}
	if device != "" {
		elems = []string{url.PathEscape(device), op} // JoinPath takes escaped segments
	}
	u := d.opt.URL.JoinPath(elems...)
	u.RawQuery = q.Encode()
	return u.String()
}

// errHTTP is a non-200 answer that is not an MTConnectError document.
var errHTTP = errors.New("unexpected HTTP status")

// get fetches one document, bounded by the device timeout.
func (d *device) get(ctx context.Context, u string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/xml, text/xml")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := readLimited(resp.Body)
	return b, resp.StatusCode, err
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("document larger than %d bytes", maxDocument)
	}
	return b, nil
}

// docError turns a parse failure of an answer with HTTP status code into the
// error to report: the agent's error when the body is an MTConnectError, the
// HTTP status when the answer was not 200, the parse error otherwise.
func docError(err error, status int) error {
	var ae *AgentError
	if errors.As(err, &ae) || status == http.StatusOK || status == 0 {
		return err
	}
	return fmt.Errorf("%w %d (%v)", errHTTP, status, err)
}

// fetchProbe reads /probe.
func (d *device) fetchProbe(ctx context.Context) (*probe, error) {
	u := d.endpoint(d.opt.Device, "probe", nil)
	b, status, err := d.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	p, err := parseProbe(b, d.opt.Device)
	if err != nil {
		d.noteDocError(err)
		return nil, fmt.Errorf("GET %s: %w", u, docError(err, status))
	}
	return p, nil
}

// fetchStreams reads /current or /sample of the followed device.
func (d *device) fetchStreams(ctx context.Context, device, op string, q url.Values) (*streamsDoc, error) {
	u := d.endpoint(device, op, q)
	b, status, err := d.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	doc, err := parseStreams(b, device)
	if err != nil {
		d.noteDocError(err)
		return nil, fmt.Errorf("GET %s: %w", u, docError(err, status))
	}
	return doc, nil
}

// noteDocError counts an agent error or a malformed document.
func (d *device) noteDocError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ae *AgentError
	if errors.As(err, &ae) {
		d.stats.AgentErrors++
		d.stats.LastErrorCode = ae.Code
		return
	}
	d.stats.Malformed++
}
