package gateway

import (
	"errors"
	"strings"
)

// h1Head is one parsed HTTP/1.1 message head (a request's or a response's), reused from message to
// message: every string is a substring of the head the parser was given, so parsing allocates nothing
// once fields has grown to the connection's usual header count.
type h1Head struct {
	// request line: method, target and version; a response's version, status and reason
	method, target, version string
	status                  int
	reason                  string

	fields []h1Field // in arrival order, names as sent

	host          string
	hasHost       bool
	contentLength int64 // -1 without a Content-Length
	chunked       bool  // Transfer-Encoding: chunked
	close         bool  // Connection: close (or an HTTP/1.0 message without keep-alive)
	// connection lists the header names the Connection header declares hop-by-hop (other than close and
	// keep-alive), comma-separated as sent; removed when the message is forwarded.
	connection []string
	// slow is why the fast path does not handle this message ("" when it does): the connection goes
	// to net/http, which answers it and the rest of the connection.
	slow string
}

// h1Field is one header line.
type h1Field struct {
	name, value string
}

// h1MaxFields bounds the header lines of a message the fast path takes; more go to net/http.
const h1MaxFields = 128

// Errors of the head parser. errHeadMalformed and errHeadSmuggling are answered 400.
var (
	errHeadMalformed = errors.New("malformed message head")
	errHeadSmuggling = errors.New("ambiguous message framing")
)

func (h *h1Head) reset() {
	fields, connection := h.fields[:0], h.connection[:0]
	*h = h1Head{fields: fields, connection: connection, contentLength: -1}
}

// get returns the value of the first header named name (case-insensitively), "" when there is none.
func (h *h1Head) get(name string) string {
	for i := range h.fields {
		if strings.EqualFold(h.fields[i].name, name) {
			return h.fields[i].value
		}
	}
	return ""
}

// hasValue reports whether the head carries the header name (canonical) with exactly value.
func (h *h1Head) hasValue(name, value string) bool {
	for i := range h.fields {
		if h.fields[i].value == value && strings.EqualFold(h.fields[i].name, name) {
			return true
		}
	}
	return false
}

// cookie returns the value of the first cookie named name, "" when there is none.
func (h *h1Head) cookie(name string) string {
	for i := range h.fields {
		if strings.EqualFold(h.fields[i].name, "Cookie") {
			if v, ok := cookieIn(h.fields[i].value, name); ok {
				return v
			}
		}
	}
	return ""
}

// parseRequestHead parses head, a request's line and header lines each ending in CRLF up to and
// including the empty line, into h. It returns errHeadMalformed or errHeadSmuggling for a message to
// refuse with 400; a valid message the fast path leaves to net/http has h.slow set.
func parseRequestHead(head string, h *h1Head) error {
	h.reset()
	line, rest, err := nextLine(head)
	if err == errBareLF {
		h.slow = "bare LF"
		return nil
	}
	if err != nil {
		return err
	}
	method, line, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || !isToken(method) || target == "" || !validTarget(target) {
		return errHeadMalformed
	}
	h.method, h.target, h.version = method, target, version
	switch {
	case version == "HTTP/1.1":
	case len(version) == 8 && strings.HasPrefix(version, "HTTP/") && version[6] == '.':
		h.slow = "version " + version // HTTP/1.0 and the like: net/http answers them
		return nil
	default:
		return errHeadMalformed
	}
	if target[0] != '/' {
		h.slow = "target form" // absolute form, asterisk, authority
		return nil
	}
	path, query, _ := strings.Cut(target, "?")
	if strings.IndexByte(path, '%') >= 0 || strings.IndexByte(query, ';') >= 0 {
		h.slow = "escaped path or query" // net/http's path decoding and query cleaning apply
		return nil
	}
	if err := h.parseFields(rest, false); err != nil || h.slow != "" {
		return err
	}
	if !h.hasHost || !validHost(h.host) {
		return errHeadMalformed
	}
	return nil
}

// parseResponseHead parses an upstream's response head into h.
func parseResponseHead(head string, h *h1Head) error {
	h.reset()
	line, rest, err := nextLine(head)
	if err != nil {
		return errHeadMalformed
	}
	version, line, ok := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(line, " ")
	if !ok || (version != "HTTP/1.1" && version != "HTTP/1.0") || len(code) != 3 {
		return errHeadMalformed
	}
	status := 0
	for i := 0; i < 3; i++ {
		if code[i] < '0' || code[i] > '9' {
			return errHeadMalformed
		}
		status = status*10 + int(code[i]-'0')
	}
	if status < 100 {
		return errHeadMalformed
	}
	h.version, h.status, h.reason = version, status, reason
	if err := h.parseFields(rest, true); err != nil {
		return err
	}
	if h.slow != "" {
		return errHeadMalformed
	}
	if h.chunked {
		h.contentLength = -1 // Transfer-Encoding overrides Content-Length (RFC 9112 6.3)
	}
	return nil
}

// parseFields reads header lines up to the empty line and the framing headers among them. In a
// response, Upgrade and Expect are headers like others (hop-by-hop ones the relay drops).
func (h *h1Head) parseFields(rest string, response bool) error {
	keepAlive := false
	for {
		line, next, err := nextLine(rest)
		if err == errBareLF {
			h.slow = "bare LF"
			return nil
		}
		if err != nil {
			return err
		}
		rest = next
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errHeadMalformed // obs-fold
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return errHeadMalformed
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			return errHeadMalformed
		}
		if len(h.fields) == h1MaxFields {
			h.slow = "too many header lines"
			return nil
		}
		h.fields = append(h.fields, h1Field{name: name, value: value})
		switch {
		case strings.EqualFold(name, "Host"):
			if h.hasHost {
				return errHeadMalformed
			}
			h.host, h.hasHost = value, true
		case strings.EqualFold(name, "Content-Length"):
			if err := h.addContentLength(value); err != nil {
				return err
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			if h.chunked || !strings.EqualFold(value, "chunked") {
				h.slow = "transfer coding " + value
				return nil
			}
			h.chunked = true
		case strings.EqualFold(name, "Connection"):
			for v := value; v != ""; {
				var token string
				token, v, _ = strings.Cut(v, ",")
				token = strings.Trim(token, " \t")
				switch {
				case strings.EqualFold(token, "close"):
					h.close = true
				case strings.EqualFold(token, "keep-alive"):
					keepAlive = true
				case strings.EqualFold(token, "upgrade") && !response:
					h.slow = "upgrade"
					return nil
				case token != "":
					h.connection = append(h.connection, token)
				}
			}
		case !response && (strings.EqualFold(name, "Upgrade") || strings.EqualFold(name, "Expect")):
			h.slow = name
			return nil
		}
	}
	if rest != "" {
		return errHeadMalformed // bytes after the empty line: the caller cut the head wrong
	}
	if h.chunked && h.contentLength >= 0 {
		return errHeadSmuggling
	}
	if h.version == "HTTP/1.0" && !keepAlive {
		h.close = true
	}
	return nil
}

// addContentLength takes one Content-Length header: digits, possibly a comma-separated list of equal
// values; a value differing from an earlier one is smuggling.
func (h *h1Head) addContentLength(value string) error {
	for value != "" {
		var v string
		v, value, _ = strings.Cut(value, ",")
		v = strings.Trim(v, " \t")
		n, ok := parseDecimal(v)
		if !ok {
			return errHeadMalformed
		}
		if h.contentLength >= 0 && h.contentLength != n {
			return errHeadSmuggling
		}
		h.contentLength = n
	}
	if h.contentLength < 0 {
		return errHeadMalformed // an empty Content-Length
	}
	return nil
}

// parseDecimal reads a non-negative decimal number of at most 18 digits.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// nextLine cuts the first CRLF-terminated line of s. A bare LF leaves the message to net/http (which
// accepts it); a CR elsewhere is malformed.
func nextLine(s string) (line, rest string, err error) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", "", errHeadMalformed
	}
	if i == 0 || s[i-1] != '\r' {
		return "", "", errBareLF
	}
	line = s[:i-1]
	if strings.IndexByte(line, '\r') >= 0 {
		return "", "", errHeadMalformed
	}
	return line, s[i+1:], nil
}

// errBareLF is a line ended by LF alone: not malformed for net/http, so the message goes there.
var errBareLF = errors.New("line ends in a bare LF")

// isToken reports whether s is a non-empty RFC 9110 token (method, header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// validTarget reports whether a request target holds only visible ASCII.
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validValue reports whether a header value holds no control character other than HTAB.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// hostChar marks the bytes net/http's server accepts in a Host header.
var hostChar = func() (t [256]bool) {
	for c := range 0x80 {
		t[c] = tokenChar[c] && c != '#' && c != '^' && c != '`' && c != '|'
	}
	for _, c := range "()+,:;=[]" {
		t[c] = true
	}
	return t
}()

// validHost reports whether a Host header holds only the bytes net/http's server accepts in one.
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		if !hostChar[s[i]] {
			return false
		}
	}
	return true
}

// tokenChar marks the bytes of RFC 9110's tchar.
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
