package collector

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendLine appends l as the compact JSON json.Marshal would write without HTML escaping (the record
// payload), field for field and byte for byte, without reflection: it is on the ingest path of every
// line. line_encode_test.go holds it to encoding/json's output.
func appendLine(dst []byte, l *Line) []byte {
	var e lineEncoder
	return e.appendLine(dst, l)
}

// LineEncoder appends lines as the JSON the ingest reads (one NDJSON line each, without its newline),
// byte for byte what encoding/json writes without HTML escaping. Senders that encode their batches
// themselves use it (the gateway's access log); one encoder reused for a run of lines allocates nothing.
type LineEncoder struct{ e lineEncoder }

// AppendLine appends l's JSON to dst.
func (e *LineEncoder) AppendLine(dst []byte, l *Line) []byte { return e.e.appendLine(dst, l) }

// lineEncoder is appendLine that formats a time once for a run of lines of the same time (the lines of
// a request without times all get the time of ingest).
type lineEncoder struct {
	t    time.Time
	text []byte // t in RFC 3339 with nanoseconds; nil before the first line
}

func (e *lineEncoder) appendLine(dst []byte, l *Line) []byte {
	dst = append(dst, `{"time":"`...)
	if e.text == nil || l.Time != e.t { // == on purpose: the same instant in another location formats differently
		e.t, e.text = l.Time, l.Time.AppendFormat(e.text[:0], time.RFC3339Nano)
	}
	dst = append(dst, e.text...)
	dst = append(dst, `","tenant":`...)
	dst = appendJSONString(dst, l.Tenant)
	dst = append(dst, `,"app":`...)
	dst = appendJSONString(dst, l.App)
	for _, f := range [...]struct{ name, value string }{
		{`,"component":`, l.Component}, {`,"operation":`, l.Operation}, {`,"workflow":`, l.Workflow},
		{`,"run":`, l.Run}, {`,"activity":`, l.Activity},
	} {
		if f.value != "" {
			dst = append(dst, f.name...)
			dst = appendJSONString(dst, f.value)
		}
	}
	if l.Attempt != 0 {
		dst = append(dst, `,"attempt":`...)
		dst = strconv.AppendInt(dst, int64(l.Attempt), 10)
	}
	if l.Step != "" {
		dst = append(dst, `,"step":`...)
		dst = appendJSONString(dst, l.Step)
	}
	if l.Level != "" {
		dst = append(dst, `,"level":`...)
		dst = appendJSONString(dst, l.Level)
	}
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, l.Message)
	dst = append(dst, `,"kind":`...)
	dst = appendJSONString(dst, string(l.Kind))
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does with HTML escaping off: invalid UTF-8 becomes
// U+FFFD, control characters, quote and backslash are escaped, and so are U+2028 and U+2029.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendRecord appends the record of l (the layout of the function appendRecord), encoding l in place.
func (e *lineEncoder) appendRecord(buf []byte, l *Line) []byte {
	if need := recordHeaderBytes + 512 + 2*len(l.Message); cap(buf)-len(buf) < need {
		// Double: append's own growth of a large slice (1.25x) copies a request's records several times.
		buf = append(make([]byte, 0, max(2*cap(buf), len(buf)+need, 4<<10)), buf...)
	}
	start := len(buf)
	buf = append(buf, make([]byte, recordHeaderBytes)...)
	buf = e.appendLine(buf, l)
	payload := buf[start+recordHeaderBytes:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}
