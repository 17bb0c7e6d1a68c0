package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// IngestResult is the answer to an acknowledged ingest request.
type IngestResult struct {
	// Accepted is the number of lines written and fsync'd.
	Accepted int `json:"accepted"`
}

// handleIngest is POST /v1/ingest: an NDJSON body of Lines (Content-Encoding: gzip allowed). The
// request is validated whole before anything is written; a bad line rejects it with a problem naming
// the line. It is answered 200 only once every line is durable.
func (c *Collector) handleIngest(w http.ResponseWriter, r *http.Request) {
	rn := c.live(w)
	if rn == nil {
		return
	}
	body := http.MaxBytesReader(w, r.Body, int64(c.cfg.MaxBatchBytes))
	var in io.Reader = body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			writeBodyError(w, err, "read gzip body")
			return
		}
		defer gz.Close()
		in = gz
	default:
		writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q is not supported; use gzip or none", enc), 0)
		return
	}
	bodyErr := &errRecorder{r: in}
	limited := &io.LimitedReader{R: bodyErr, N: int64(c.cfg.MaxBatchBytes) + 1}
	b, lineNo, err := parseLines(limited, c.cfg.MaxLineBytes, time.Now(), false, &rn.committer.buffers)
	if bodyErr.err != nil { // a line cut short by a failed read is not the line's fault
		writeBodyError(w, bodyErr.err, "read body")
		return
	}
	if limited.N <= 0 {
		writeProblem(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than %d bytes (after decoding); send fewer lines per request", c.cfg.MaxBatchBytes), 0)
		return
	}
	if err != nil {
		if lineNo > 0 {
			writeProblem(w, http.StatusBadRequest, fmt.Sprintf("line %d: %v; nothing was written", lineNo, err), lineNo)
			return
		}
		writeBodyError(w, err, "read body")
		return
	}
	if b.lines > 0 {
		if err := rn.committer.submit(r.Context(), b); err != nil {
			c.logger.Warn("ingest not committed", "lines", b.lines, "err", err)
			switch {
			case errors.Is(err, errClosed):
				writeProblem(w, http.StatusServiceUnavailable, err.Error(), 0)
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				writeProblem(w, http.StatusServiceUnavailable, "request ended before its lines were durable: "+err.Error(), 0)
			default:
				writeProblem(w, http.StatusInternalServerError, "write lines: "+err.Error(), 0)
			}
			return
		}
	}
	writeJSON(w, http.StatusOK, IngestResult{Accepted: b.lines})
}

// parseBatch reads NDJSON lines, validates and normalizes each, and encodes them as records grouped by
// stream, keeping the decoded lines too. On a bad line it returns its 1-based number; blank lines are
// skipped but counted.
func parseBatch(r io.Reader, maxLine int, now time.Time) (*batch, int, error) {
	return parseLines(r, maxLine, now, true, nil)
}

// parseLines is parseBatch; with keep false the groups have their records only (lines nil), which is
// all the committer needs: it decodes them again for whoever reads them live (see group.decoded). With
// buffers set, the records go into buffers from there, which the committer recycles.
func parseLines(r io.Reader, maxLine int, now time.Time, keep bool, buffers *recordBuffers) (*batch, int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(maxLine+2, 256<<10)), maxLine+2) // the line, \r and \n
	b := &batch{buffers: buffers}
	p := lineParser{borrow: !keep}
	var enc lineEncoder
	groups := make(map[StreamKey]*group)
	var last *group // most requests carry one stream, or runs of one
	lineNo := 0
	for sc.Scan() {
		lineNo++
		raw := sc.Bytes()
		if len(raw) > maxLine {
			return nil, lineNo, fmt.Errorf("line is %d bytes, more than the %d allowed", len(raw), maxLine)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var l Line
		if err := p.parse(raw, &l); err != nil {
			return nil, lineNo, fmt.Errorf("not a JSON line object: %w", err)
		}
		key := l.Key()
		g := last
		if g == nil || g.key != key {
			if g = groups[key]; g == nil {
				// A key is validated once a request: every line of a group has the same.
				if err := key.Validate(); err != nil {
					return nil, lineNo, err
				}
				g = &group{key: key.clone(), records: buffers.get()}
				groups[g.key] = g // the cloned key: a borrowed one changes under the map
				b.groups = append(b.groups, g)
			}
			last = g
		}
		if err := l.normalizeFields(now); err != nil {
			return nil, lineNo, err
		}
		n := len(g.records)
		g.records = enc.appendRecord(g.records, &l)
		if len(g.records)-n-recordHeaderBytes > maxRecordBytes {
			return nil, lineNo, fmt.Errorf("line is more than %d bytes once encoded", maxRecordBytes)
		}
		if keep {
			g.lines = append(g.lines, l)
		}
		g.count++
		b.bytes += len(g.records) - n
		b.lines++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, lineNo + 1, fmt.Errorf("line is more than the %d bytes allowed", maxLine)
		}
		return nil, 0, err
	}
	return b, 0, nil
}

// errRecorder remembers the first read error other than io.EOF.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// writeBodyError answers a body that could not be read: 413 past the size limit, 400 otherwise.
func writeBodyError(w http.ResponseWriter, err error, what string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit), 0)
		return
	}
	writeProblem(w, http.StatusBadRequest, what+": "+err.Error(), 0)
}
