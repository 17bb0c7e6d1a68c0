package collector

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// lineParser decodes the NDJSON Line objects of one ingest request. Its fast path is a hand-written
// scanner for what clients send: one object of the Line's own (lower-case) keys with string values
// (unescaped only when a backslash or non-ASCII byte is there), an integer attempt and an RFC 3339 time.
// Anything else (unknown or differently cased keys, null, floats, invalid JSON, trailing data) is
// decoded again by encoding/json, whose result and error are then the answer: the fast path only ever
// returns what json.Unmarshal would (FuzzParseLine holds it to that).
//
// The strings of the lines point into arena chunks owned by the parser and never written again once a
// string points into them, so a request costs a few allocations rather than several a line. A parser
// is for one request (one goroutine).
//
// A borrowing parser (borrow set) makes the plain strings of a line point into the input itself: the
// line is then valid only until the input is reused (the next line of a bufio.Scanner), for a caller
// that encodes it right away and keeps nothing of it.
type lineParser struct {
	borrow bool
	arena  []byte            // the current chunk; bytes below len are referenced by strings, never rewritten
	names  map[string]string // interned short values (tenants, apps, components...), at most maxInterned
}

const (
	arenaChunkBytes = 64 << 10
	maxInterned     = 256
	maxInternedLen  = 64
)

// parse decodes raw into l (which it resets first).
func (p *lineParser) parse(raw []byte, l *Line) error {
	*l = Line{}
	if p.fast(raw, l) {
		return nil
	}
	*l = Line{}
	return json.Unmarshal(raw, l)
}

// fast decodes raw into l when it is in the shape the fast path handles, and says whether it was.
func (p *lineParser) fast(raw []byte, l *Line) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return skipSpace(raw, i+1) == len(raw)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return false
		}
		end := i + 1
		for end < len(raw) && raw[end] != '"' && raw[end] != '\\' {
			end++
		}
		if end >= len(raw) || raw[end] != '"' {
			return false
		}
		key := raw[i+1 : end]
		i = skipSpace(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipSpace(raw, i+1)
		var ok bool
		switch string(key) {
		case "time":
			i, ok = p.timeValue(raw, i, l)
		case "attempt":
			i, ok = intValue(raw, i, &l.Attempt)
		default:
			if dst := l.stringField(key); dst != nil {
				i, ok = p.stringValue(raw, i, dst, dst != &l.Message)
			}
		}
		if !ok {
			return false
		}
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return skipSpace(raw, i+1) == len(raw)
		default:
			return false
		}
	}
}

// stringField is the string field of l a key names (exactly as encoded), or nil.
func (l *Line) stringField(key []byte) *string {
	switch string(key) {
	case "tenant":
		return &l.Tenant
	case "app":
		return &l.App
	case "component":
		return &l.Component
	case "operation":
		return &l.Operation
	case "workflow":
		return &l.Workflow
	case "run":
		return &l.Run
	case "activity":
		return &l.Activity
	case "step":
		return &l.Step
	case "level":
		return &l.Level
	case "message":
		return &l.Message
	case "kind":
		return (*string)(&l.Kind)
	}
	return nil
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringValue decodes the JSON string at raw[i] into dst and returns the index after it. Short values
// that repeat across lines (intern) are shared.
func (p *lineParser) stringValue(raw []byte, i int, dst *string, intern bool) (int, bool) {
	if i >= len(raw) || raw[i] != '"' {
		return 0, false
	}
	start := i + 1
	j := start
	for j < len(raw) {
		c := raw[j]
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			break
		}
		if c == '"' {
			*dst = p.text(raw[start:j], intern)
			return j + 1, true
		}
		j++
	}
	return p.slowString(raw, start, j, dst)
}

// slowString decodes a string that has an escape or a non-ASCII byte from raw[j] on (raw[start:j] is
// plain), as encoding/json does: escapes resolved, invalid UTF-8 and unpaired surrogates as U+FFFD.
func (p *lineParser) slowString(raw []byte, start, j int, dst *string) (int, bool) {
	p.reserve(len(raw) - start + utf8.UTFMax)
	base := len(p.arena)
	out := append(p.arena, raw[start:j]...)
	for j < len(raw) {
		c := raw[j]
		switch {
		case c == '"':
			p.arena = out
			*dst = p.ref(base, len(out)-base)
			return j + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if j+1 >= len(raw) {
				return 0, false
			}
			switch e := raw[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(raw[j:])
				if r < 0 {
					return 0, false
				}
				if utf16.IsSurrogate(r) {
					if r2 := hex4(raw[j+6:]); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							j += 12
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
				j += 6
				continue
			default:
				return 0, false
			}
			j += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			r, size := utf8.DecodeRune(raw[j:])
			out = utf8.AppendRune(out, r) // an invalid byte is U+FFFD
			j += size
		}
	}
	return 0, false
}

// hex4 reads a \uXXXX escape at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// intValue decodes a JSON integer that fits an int without question (at most 18 digits).
func intValue(raw []byte, i int, dst *int) (int, bool) {
	neg := i < len(raw) && raw[i] == '-'
	if neg {
		i++
	}
	start := i
	n := 0
	for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
		n = n*10 + int(raw[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || digits > 1 && raw[start] == '0' {
		return 0, false
	}
	if i < len(raw) && (raw[i] == '.' || raw[i] == 'e' || raw[i] == 'E') {
		return 0, false // a float: encoding/json's error
	}
	if neg {
		n = -n
	}
	*dst = n
	return i, true
}

// timeValue decodes the JSON string at raw[i] with time.Time's own UnmarshalJSON, as encoding/json does
// (which hands it the literal as written, escapes and all).
func (p *lineParser) timeValue(raw []byte, i int, l *Line) (int, bool) {
	if i >= len(raw) || raw[i] != '"' {
		return 0, false
	}
	j := i + 1
	for j < len(raw) && raw[j] != '"' {
		if raw[j] < 0x20 || raw[j] == '\\' || raw[j] >= utf8.RuneSelf {
			return 0, false
		}
		j++
	}
	if j >= len(raw) {
		return 0, false
	}
	if err := l.Time.UnmarshalJSON(raw[i : j+1]); err != nil {
		return 0, false
	}
	return j + 1, true
}

// text returns b as a string: a constant or interned one when it repeats, else a copy in the arena.
func (p *lineParser) text(b []byte, intern bool) string {
	if len(b) == 0 {
		return ""
	}
	if p.borrow {
		return unsafe.String(&b[0], len(b))
	}
	if intern && len(b) <= maxInternedLen {
		if s, ok := p.names[string(b)]; ok {
			return s
		}
		s := p.copy(b)
		if p.names == nil {
			p.names = make(map[string]string)
		}
		if len(p.names) < maxInterned {
			p.names[s] = s
		}
		return s
	}
	return p.copy(b)
}

// copy copies b into the arena and returns it as a string.
func (p *lineParser) copy(b []byte) string {
	p.reserve(len(b))
	base := len(p.arena)
	p.arena = append(p.arena, b...)
	return p.ref(base, len(b))
}

// reserve makes room for n more bytes in the arena without moving what is there: a full chunk is left
// to the strings that point into it and a new one started.
func (p *lineParser) reserve(n int) {
	if cap(p.arena)-len(p.arena) >= n {
		return
	}
	p.arena = make([]byte, 0, max(arenaChunkBytes, n))
}

// ref is the string of arena[base:base+n]; those bytes are never written again.
func (p *lineParser) ref(base, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&p.arena[base], n)
}

// decodeRecords decodes the count lines of records (as the ingest path encodes them) for the live tail.
func decodeRecords(records []byte, count int) ([]Line, error) {
	lines := make([]Line, 0, count)
	var p lineParser
	for off := 0; off < len(records); {
		if len(records)-off < recordHeaderBytes {
			return nil, fmt.Errorf("decode record at %d: short header", off)
		}
		word, _ := recordLength(binary.LittleEndian.Uint32(records[off:]))
		n := int(word)
		off += recordHeaderBytes
		if n > len(records)-off {
			return nil, fmt.Errorf("decode record at %d: length %d past the end", off-recordHeaderBytes, n)
		}
		lines = append(lines, Line{})
		if err := p.parse(records[off:off+n], &lines[len(lines)-1]); err != nil {
			return nil, fmt.Errorf("decode record at %d: %w", off-recordHeaderBytes, err)
		}
		off += n
	}
	return lines, nil
}
