package collector

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lineParseCases are the seeds of FuzzParseLine and the cases of TestLineParserFast: fast says whether
// the fast path is expected to take the line (else encoding/json decodes it).
var lineParseCases = []struct {
	name string
	raw  string
	fast bool
}{
	{name: "access line", raw: `{"kind":"runtime","tenant":"t1","app":"shop","component":"web-1","level":"info","message":"GET /api/items/1 200"}`, fast: true},
	{name: "all fields", raw: `{"time":"2026-01-02T03:04:05.123456789+02:00","tenant":"t","app":"a","component":"c","operation":"o","workflow":"w","run":"r","activity":"x","attempt":3,"step":"s","level":"warn","message":"m","kind":"event"}`, fast: true},
	{name: "spaces", raw: " \t{ \"kind\" : \"event\" , \"message\":\"x\" }\r ", fast: true},
	{name: "empty object", raw: `{}`, fast: true},
	{name: "escapes", raw: `{"message":"a\"b\\c\/d\b\f\n\r\t\u00e9\u2028\ud83d\ude00"}`, fast: true},
	{name: "lone surrogate", raw: `{"message":"x\ud800y\udc00\ud800\u0041"}`, fast: true},
	{name: "utf-8 and invalid utf-8", raw: "{\"message\":\"h\xc3\xa9llo \xff\xfe end\"}", fast: true},
	{name: "negative attempt", raw: `{"attempt":-12}`, fast: true},
	{name: "duplicate key", raw: `{"message":"a","message":"b"}`, fast: true},
	{name: "time in utc", raw: `{"time":"2026-01-02T03:04:05Z"}`, fast: true},
	{name: "bad time", raw: `{"time":"yesterday"}`},
	{name: "hour of one digit (time.Time takes it)", raw: `{"time":"2026-01-02T3:04:05Z"}`, fast: true},
	{name: "null", raw: `{"message":null,"time":null}`},
	{name: "float attempt", raw: `{"attempt":1.5}`},
	{name: "exponent attempt", raw: `{"attempt":1e2}`},
	{name: "leading zero", raw: `{"attempt":01}`},
	{name: "huge attempt", raw: `{"attempt":123456789012345678901234}`},
	{name: "string attempt", raw: `{"attempt":"1"}`},
	{name: "capitalised key", raw: `{"Message":"x"}`},
	{name: "unknown key", raw: `{"msg":"x","extra":{"a":[1,2]}}`},
	{name: "not an object", raw: `["message"]`},
	{name: "trailing data", raw: `{"message":"x"} {}`},
	{name: "control character", raw: "{\"message\":\"a\tb\"}"},
	{name: "bad escape", raw: `{"message":"a\qb"}`},
	{name: "single quote escape", raw: `{"message":"a\'b"}`},
	{name: "unterminated", raw: `{"message":"abc`},
	{name: "missing comma", raw: `{"message":"a" "kind":"event"}`},
	{name: "trailing comma", raw: `{"message":"a",}`},
}

func TestLineParserFast(t *testing.T) {
	t.Parallel()
	for _, tt := range lineParseCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p lineParser
			var got Line
			assert.Equal(t, tt.fast, p.fast([]byte(tt.raw), &got), "taken by the fast path")
			assertParsesLikeJSON(t, []byte(tt.raw))
		})
	}
}

// TestLineParserArena checks that lines keep their strings when the parser goes on to later lines
// (the arena is never rewritten under them).
func TestLineParserArena(t *testing.T) {
	t.Parallel()
	var p lineParser
	var lines []Line
	for i := range 5000 {
		var l Line
		raw := []byte(`{"tenant":"t","app":"a` + string(rune('a'+i%26)) + `","message":"line \u00e9 ` + time.Duration(i).String() + `"}`)
		require.NoError(t, p.parse(raw, &l))
		lines = append(lines, l)
	}
	for i, l := range lines {
		assert.Equal(t, "line é "+time.Duration(i).String(), l.Message)
		assert.Equal(t, "a"+string(rune('a'+i%26)), l.App)
	}
}

// FuzzParseLine holds the parser to encoding/json: the same Line, or the same error.
func FuzzParseLine(f *testing.F) {
	for _, tt := range lineParseCases {
		f.Add([]byte(tt.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		assertParsesLikeJSON(t, raw)
	})
}

func assertParsesLikeJSON(t *testing.T, raw []byte) {
	t.Helper()
	var want Line
	wantErr := json.Unmarshal(raw, &want)
	var p lineParser
	var got Line
	err := p.parse(raw, &got)
	if wantErr != nil {
		require.Error(t, err, "encoding/json: %v", wantErr)
		require.Equal(t, wantErr.Error(), err.Error())
		return
	}
	require.NoError(t, err)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q\nencoding/json: %#v\nparser:        %#v", raw, want, got)
	}
}

// TestParseLinesBorrowed holds ingest's own path (lines not kept, strings borrowed from the scanner's
// buffer) to parseBatch's: the same groups, keys and records, with the scanner's buffer reused under
// it; and the committer's decoding of those records gives back parseBatch's lines.
func TestParseLinesBorrowed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 10, 0, 0, 123000000, time.UTC)
	var body []byte
	for i := range 300 {
		l := Line{Kind: KindRuntime, Tenant: "t1", App: "shop", Component: "web-" + string(rune('a'+i%3)),
			Message: "GET /items/" + time.Duration(i).String() + " \"quoted\" é"}
		if i%7 == 0 {
			l = Line{Kind: KindEvent, Tenant: "t2", App: "app-" + string(rune('a'+i%2)), Operation: "op", Attempt: i, Step: "s",
				Time: now.Add(time.Duration(i) * time.Second)}
		}
		b, err := json.Marshal(l)
		require.NoError(t, err)
		body = append(append(body, b...), '\n')
	}
	for _, tt := range []struct {
		name   string
		reader func() io.Reader
	}{
		{name: "whole", reader: func() io.Reader { return bytes.NewReader(body) }},
		{name: "one byte at a time", reader: func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body)) }},
		{name: "half reads", reader: func() io.Reader { return iotest.HalfReader(bytes.NewReader(body)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, lineNo, err := parseBatch(tt.reader(), DefaultMaxLineBytes, now)
			require.NoError(t, err, "line %d", lineNo)
			got, lineNo, err := parseLines(tt.reader(), 256, now, false, nil)
			require.NoError(t, err, "line %d", lineNo)
			require.Equal(t, want.lines, got.lines)
			require.Equal(t, want.bytes, got.bytes)
			require.Len(t, got.groups, len(want.groups))
			for i, g := range got.groups {
				assert.Equal(t, want.groups[i].key, g.key)
				assert.Equal(t, want.groups[i].records, g.records)
				assert.Nil(t, g.lines)
				assert.Equal(t, len(want.groups[i].lines), g.size())
				lines, err := g.decoded()
				require.NoError(t, err)
				wantJSON, err := json.Marshal(want.groups[i].lines)
				require.NoError(t, err)
				gotJSON, err := json.Marshal(lines)
				require.NoError(t, err)
				assert.JSONEq(t, string(wantJSON), string(gotJSON))
			}
		})
	}
}
