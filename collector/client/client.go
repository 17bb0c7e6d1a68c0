// Package client sends log lines to the collector. Activities and other processes use it to write
// operation events, build output and runtime output; it imports nothing but the collector's Line type.
package client

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rainflow/rainflow/collector"
)

// Line is the collector's log line.
type Line = collector.Line

// Defaults of Client.
const (
	DefaultMaxBatchBytes = 1 << 20
	DefaultMaxWait       = 5 * time.Second
	DefaultHTTPTimeout   = 10 * time.Second
)

// Client sends lines to one collector. The zero value of every field but BaseURL is usable.
type Client struct {
	// BaseURL is the collector's address, e.g. "http://127.0.0.1:7482".
	BaseURL string
	// HTTP does the requests; nil uses a client with a 10s timeout.
	HTTP *http.Client
	// MaxBatchBytes bounds the NDJSON of one request (before gzip); Send splits larger sets of lines.
	// Default 1 MiB. Keep it under the collector's MaxBatchBytes.
	MaxBatchBytes int
	// MaxWait bounds one Send, retries included, on top of the caller's context. Default 5s.
	MaxWait time.Duration
}

// Error is a request the collector refused (a 4xx other than 429): retrying cannot help.
type Error struct {
	Status int
	// Detail is the problem's detail, or the start of the body when it was not a problem.
	Detail string
	// Line is the 1-based line of the request's batch that was refused, 0 when none was named.
	Line int
}

func (e *Error) Error() string {
	return fmt.Sprintf("collector refused lines: %d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

// Send writes lines to the collector and returns once they are durable there. It sends them in batches
// of at most MaxBatchBytes, gzip'd, in order, and retries a batch with exponential backoff on connection
// errors, 429 and 5xx until ctx is done or MaxWait has passed, whichever is first. A refused batch
// (*Error) is not retried. Retries are at-least-once: a batch whose answer was lost may be stored twice.
// On failure the error says how many lines were stored before it.
func (c *Client) Send(ctx context.Context, lines []Line) error {
	if len(lines) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.MaxWait, DefaultMaxWait))
	defer cancel()
	batches, err := encodeBatches(lines, cmp.Or(c.MaxBatchBytes, DefaultMaxBatchBytes))
	if err != nil {
		return err
	}
	sent := 0
	for _, b := range batches {
		if err := c.sendWithRetry(ctx, b.body, "gzip"); err != nil {
			return fmt.Errorf("send lines to collector (%d of %d stored): %w", sent, len(lines), err)
		}
		sent += b.lines
	}
	return nil
}

// SendNDJSON is Send for a batch the caller encoded: body is NDJSON, one line a Line (the JSON
// collector.LineEncoder writes, each followed by a newline), of at most the collector's MaxBatchBytes,
// sent as one request with Send's retries. encoding is its Content-Encoding: "" (none) or "gzip". The
// caller may reuse body once SendNDJSON returns: nothing reads it after that.
func (c *Client) SendNDJSON(ctx context.Context, body []byte, encoding string) error {
	if len(body) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.MaxWait, DefaultMaxWait))
	defer cancel()
	if err := c.sendWithRetry(ctx, body, encoding); err != nil {
		return fmt.Errorf("send lines to collector: %w", err)
	}
	return nil
}

type encodedBatch struct {
	body  []byte // gzip'd NDJSON
	lines int
}

// encodeBatches encodes lines as NDJSON and cuts it into gzip'd batches of at most maxBytes (a single
// larger line goes alone, for the collector to judge).
func encodeBatches(lines []Line, maxBytes int) ([]encodedBatch, error) {
	var out []encodedBatch
	var raw bytes.Buffer
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		if _, err := zw.Write(raw.Bytes()); err != nil {
			return fmt.Errorf("compress lines: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compress lines: %w", err)
		}
		out = append(out, encodedBatch{body: gz.Bytes(), lines: n})
		raw.Reset()
		n = 0
		return nil
	}
	for i := range lines {
		b, err := json.Marshal(&lines[i])
		if err != nil {
			return nil, fmt.Errorf("encode line %d: %w", i+1, err)
		}
		if n > 0 && raw.Len()+len(b)+1 > maxBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		raw.Write(b)
		raw.WriteByte('\n')
		n++
	}
	return out, flush()
}

// sendWithRetry posts one batch until it is stored, refused, or ctx is done.
func (c *Client) sendWithRetry(ctx context.Context, body []byte, encoding string) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.post(ctx, body, encoding)
		var refused *Error
		if err == nil || errors.As(err, &refused) {
			return err
		}
		// Full jitter: wait a random time up to the backoff, which doubles up to 1s.
		wait := time.Duration(rand.Int64N(int64(backoff))) + time.Millisecond
		backoff = min(2*backoff, time.Second)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("give up after %d attempts: %w (last: %w)", attempt, context.Cause(ctx), err)
		case <-timer.C:
		}
	}
}

// post sends one request with a body of the given Content-Encoding ("" for none); a non-nil error
// other than *Error is worth retrying. Nothing reads body once it returns.
func (c *Client) post(ctx context.Context, body []byte, encoding string) error {
	b := &detachableBody{buf: body}
	defer b.detach()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/v1/ingest", b.reader())
	if err != nil {
		return &Error{Detail: "build request: " + err.Error()}
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return b.reader(), nil } // the transport's own retry
	req.Header.Set("Content-Type", "application/x-ndjson")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("post lines: %w", err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return fmt.Errorf("collector answered %d: %s", res.StatusCode, strings.TrimSpace(string(answer)))
	}
	refused := &Error{Status: res.StatusCode, Detail: strings.TrimSpace(string(answer))}
	var p collector.Problem
	if json.Unmarshal(answer, &p) == nil && p.Detail != "" {
		refused.Detail, refused.Line = p.Detail, p.Line
	}
	return refused
}

// detachableBody is a request body over a caller's buffer whose readers read nothing once it is
// detached: the transport may go on writing a request after its answer arrived (an early refusal),
// when the caller already reuses the buffer.
type detachableBody struct {
	mu       sync.Mutex
	buf      []byte
	detached bool
}

func (b *detachableBody) reader() io.ReadCloser { return &bodyReader{b: b} }

func (b *detachableBody) detach() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.detached = true
}

// bodyReader is one read of a detachableBody (the transport rewinds by asking for another).
type bodyReader struct {
	b   *detachableBody
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.detached || r.off >= len(r.b.buf) {
		return 0, io.EOF
	}
	n := copy(p, r.b.buf[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error { return nil }
