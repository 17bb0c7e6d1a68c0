package gateway

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// bodyFraming is how a response body is delimited.
type bodyFraming int

const (
	framingNone    bodyFraming = iota // no body: HEAD, 204, 304
	framingLength                     // Content-Length
	framingChunked                    // Transfer-Encoding: chunked, relayed chunk by chunk
	framingClose                      // until the upstream closes: the client's connection ends with it
)

// relay writes the upstream's answer (c.resp, the body still in uc) to the client with today's
// semantics: the rule's response headers, the sticky cookie when the client does not hold this
// upstream's, the gateway's request id instead of the upstream's. uc goes back to u's idle pool when
// both sides ended cleanly and the upstream keeps it alive.
func (c *fastConn) relay(uc *upConn, u *Upstream, rt *route, id string) (status int, n int64, keep bool) {
	r, bw := &c.resp, c.bw
	status = r.status
	framing := framingLength
	switch {
	case c.head.method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified:
		framing = framingNone
	case r.chunked:
		framing = framingChunked
	case r.contentLength < 0:
		framing = framingClose
	}
	closing := c.head.close || framing == framingClose || c.srv.closing.Load()

	writeStatusLine(bw, status, r.reason)
	hasDate := false
	for _, f := range r.fields {
		switch {
		case dropped(f.name, responseHopHeaders) && !(framing == framingNone && strings.EqualFold(f.name, "Content-Length")):
		case r.namedInConnection(f.name) || (rt != nil && rt.setsHeader(f.name)):
		default:
			hasDate = hasDate || strings.EqualFold(f.name, "Date")
			writeField(bw, f.name, f.value)
		}
	}
	if rt != nil {
		for _, h := range rt.headers {
			for _, v := range h.values {
				writeField(bw, h.name, v)
			}
		}
		if name := rt.Options.StickyCookie; name != "" && (!c.ex.hasSticky || c.ex.sticky != u.hash) {
			_, _ = bw.WriteString("Set-Cookie: ")
			_, _ = bw.WriteString(name)
			_ = bw.WriteByte('=')
			_, _ = bw.Write(strconv.AppendUint(bw.AvailableBuffer(), u.hash, 16))
			_, _ = bw.WriteString("; Path=/; HttpOnly; SameSite=Lax\r\n")
		}
	}
	writeField(bw, "X-Request-Id", id)
	if !hasDate {
		writeField(bw, "Date", c.srv.date.get(c.now))
	}
	switch framing {
	case framingChunked:
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	case framingLength:
		writeContentLength(bw, r.contentLength)
	}
	if closing {
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	_, _ = bw.WriteString("\r\n")

	var err error
	switch {
	case framing == framingLength && r.contentLength <= int64(uc.br.Buffered()):
		// The whole body came with the head (a small answer): no copy buffer.
		body, _ := uc.br.Peek(int(r.contentLength))
		_, err = bw.Write(body)
		if err != nil {
			err = writeError{err}
		} else {
			n = r.contentLength
			_, _ = uc.br.Discard(int(n))
		}
	case framing == framingLength || framing == framingClose:
		buf := c.srv.buffers.copyBuffer()
		n, err = flushingCopy(bw, uc.br, r.contentLength, *buf)
		c.srv.buffers.putCopyBuffer(buf)
	case framing == framingChunked:
		buf := c.srv.buffers.copyBuffer()
		n, err = copyChunked(bw, uc.br, *buf, true)
		c.srv.buffers.putCopyBuffer(buf)
	}
	c.end = time.Now()
	if err != nil || framing == framingClose || r.close {
		uc.close()
	} else {
		u.idle.put(uc, c.end)
	}
	if err != nil {
		c.srv.logger.Debug("relay response body", "request_id", strings.Clone(id), "upstream", u.Addr, "err", err)
		return status, n, false
	}
	return status, n, !closing
}

// setsHeader reports whether the rule sets the response header name (replacing the upstream's).
func (r *route) setsHeader(name string) bool {
	for _, h := range r.headers {
		if strings.EqualFold(h.name, name) {
			return true
		}
	}
	return false
}

// ownAnswer writes a short plain-text answer of the gateway's own, like plainError.
func (c *fastConn) ownAnswer(code int, msg, id string) (int, int64, bool) {
	bw := c.bw
	writeStatusLine(bw, code, "")
	_, _ = bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	writeField(bw, "X-Request-Id", id)
	c.end = time.Now()
	writeField(bw, "Date", c.srv.date.get(c.end))
	writeContentLength(bw, int64(len(msg)+1))
	if c.head.close {
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	_, _ = bw.WriteString("\r\n")
	if c.head.method == http.MethodHead {
		return code, 0, true
	}
	_, _ = bw.WriteString(msg)
	_ = bw.WriteByte('\n')
	return code, int64(len(msg) + 1), true
}

// writeStatusLine writes "HTTP/1.1 <code> <text>", the standard text of a known code like net/http.
func writeStatusLine(bw *bufio.Writer, code int, reason string) {
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(code), 10))
	_ = bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		reason = text
	}
	_, _ = bw.WriteString(reason)
	_, _ = bw.WriteString("\r\n")
}

func writeContentLength(bw *bufio.Writer, n int64) {
	_, _ = bw.WriteString("Content-Length: ")
	_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10))
	_, _ = bw.WriteString("\r\n")
}
