package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIngestReadRoundTrip(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	web := Line{Kind: KindRuntime, Tenant: "t1", App: "shop", Component: "web", Message: "listening on :8080", Time: at, Level: LevelWarn}
	tc.ingest(t,
		event("op-1", "deploy started"),
		web,
		Line{Kind: KindEvent, Tenant: "t1", App: "shop", Operation: "op-1", Workflow: "rainflow/t1/shop/web", Run: "r1",
			Activity: "Apply", Attempt: 2, Step: "apply", Message: `applied "web" <deployment> & service`},
	)
	tc.ingest(t, event("op-1", "deploy finished"))

	got := tc.readAll(t, eventStream("op-1"))
	assert.Equal(t, []string{"deploy started", `applied "web" <deployment> & service`, "deploy finished"}, messages(got))
	assert.Equal(t, LevelInfo, got[0].Level, "default level")
	assert.WithinDuration(t, time.Now(), got[0].Time, time.Minute, "zero time set at ingest")
	assert.Equal(t, Line{Kind: KindEvent, Tenant: "t1", App: "shop", Operation: "op-1", Workflow: "rainflow/t1/shop/web", Run: "r1",
		Activity: "Apply", Attempt: 2, Step: "apply", Level: LevelInfo, Message: `applied "web" <deployment> & service`, Time: got[1].Time}, got[1])

	runtime := tc.readAll(t, StreamKey{Kind: KindRuntime, Tenant: "t1", App: "shop", Name: "web"})
	require.Len(t, runtime, 1)
	assert.True(t, at.Equal(runtime[0].Time), "time kept to the nanosecond")
	assert.Equal(t, web.Message, runtime[0].Message)

	empty := tc.read(t, eventStream("never-written"), nil)
	assert.Empty(t, empty.Lines)
	assert.False(t, empty.More)
}

func TestIngestGzip(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	var lines []Line
	for i := range 200 {
		lines = append(lines, event("op-gz", strings.Repeat("x", i)))
	}
	status, body := tc.post(t, gzipped(t, ndjson(t, lines...)), "gzip")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `{"accepted":200}`, string(body))
	assert.Len(t, tc.readAll(t, eventStream("op-gz")), 200)
}

func TestIngestRejects(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{MaxLineBytes: 1024, MaxBatchBytes: 16 << 10})
	good := string(ndjson(t, event("op-bad", "fine")))
	tests := []struct {
		name       string
		body       []byte
		encoding   string
		wantStatus int
		wantLine   int
		wantDetail string
	}{
		{name: "invalid JSON on line 3", body: []byte(good + good + "{not json}\n" + good),
			wantStatus: 400, wantLine: 3, wantDetail: "line 3: not a JSON line object"},
		{name: "a JSON array is not a line", body: []byte(good + "[1,2]\n"),
			wantStatus: 400, wantLine: 2, wantDetail: "line 2: not a JSON line object"},
		{name: "unknown kind", body: []byte(good + `{"kind":"audit","tenant":"t1","app":"shop","operation":"op-bad","message":"x"}` + "\n"),
			wantStatus: 400, wantLine: 2, wantDetail: `line 2: kind "audit" is not one of event, build, runtime, access; nothing was written`},
		{name: "blank lines count", body: []byte(good + "\n\n" + `{"kind":"event","tenant":"t1","app":"shop","message":"x"}`),
			wantStatus: 400, wantLine: 4, wantDetail: "line 4: operation is missing"},
		{name: "line too long", body: []byte(good + string(ndjson(t, event("op-bad", strings.Repeat("y", 2000))))),
			wantStatus: 400, wantLine: 2, wantDetail: "line 2: line is"},
		{name: "body too large", body: bytes.Repeat([]byte(good), 400),
			wantStatus: 413, wantDetail: "larger than 16384 bytes"},
		{name: "gzip body too large once decoded", body: gzipped(t, bytes.Repeat([]byte(good), 400)), encoding: "gzip",
			wantStatus: 413, wantDetail: "larger than 16384 bytes"},
		{name: "corrupt gzip", body: []byte("definitely not gzip"), encoding: "gzip",
			wantStatus: 400, wantDetail: "read gzip body"},
		{name: "unknown encoding", body: []byte(good), encoding: "br",
			wantStatus: 415, wantDetail: `content encoding "br" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tc.post(t, tt.body, tt.encoding)
			assert.Equal(t, tt.wantStatus, status, "%s", body)
			var p Problem
			require.NoError(t, json.Unmarshal(body, &p), "%s", body)
			assert.Equal(t, tt.wantStatus, p.Status)
			assert.Equal(t, tt.wantLine, p.Line)
			assert.Contains(t, p.Detail, tt.wantDetail)
		})
	}
	// Nothing of a rejected request was written, not even its good lines.
	assert.Empty(t, tc.readAll(t, eventStream("op-bad")))
}

func TestReadPagination(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	key := eventStream("op-page")
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	var lines []Line
	for i := range 25 {
		l := event("op-page", "line "+string(rune('a'+i)))
		l.Time = base.Add(time.Duration(i) * time.Second)
		lines = append(lines, l)
	}
	tc.ingest(t, lines[:12]...)
	tc.ingest(t, lines[12:]...)

	var got []string
	params := url.Values{"limit": {"10"}}
	var pages []Page
	for {
		p := tc.read(t, key, params)
		pages = append(pages, p)
		got = append(got, messages(p.Lines)...)
		if !p.More {
			break
		}
		params.Set("cursor", p.Cursor)
	}
	assert.Equal(t, messages(lines), got)
	require.Len(t, pages, 3)
	assert.Equal(t, []int{10, 10, 5}, []int{len(pages[0].Lines), len(pages[1].Lines), len(pages[2].Lines)})

	// The last cursor is the end of the stream: reading from it returns only what came since.
	end := pages[2].Cursor
	assert.Empty(t, tc.read(t, key, url.Values{"cursor": {end}}).Lines)
	tc.ingest(t, event("op-page", "later"))
	assert.Equal(t, []string{"later"}, messages(tc.read(t, key, url.Values{"cursor": {end}}).Lines))

	filters := []struct {
		name   string
		params url.Values
		want   []string
	}{
		{name: "since inclusive, until exclusive",
			params: url.Values{"since": {base.Add(3 * time.Second).Format(time.RFC3339)}, "until": {base.Add(6 * time.Second).Format(time.RFC3339)}},
			want:   []string{"line d", "line e", "line f"}},
		{name: "substring", params: url.Values{"q": {"line y"}}, want: []string{"line y"}},
		{name: "substring is case-sensitive", params: url.Values{"q": {"LINE"}}, want: nil},
		{name: "substring with JSON escapes", params: url.Values{"q": {`"`}}, want: nil},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			p := tc.read(t, key, f.params)
			assert.Equal(t, f.want, nilIfEmpty(messages(p.Lines)))
			assert.False(t, p.More)
		})
	}

	bad := []struct {
		name   string
		key    StreamKey
		params url.Values
		want   string
	}{
		{name: "mangled cursor", key: key, params: url.Values{"cursor": {"AAAA"}}, want: "cursor is not one this stream returned"},
		{name: "cursor of another stream", key: eventStream("op-other"), params: url.Values{"cursor": {end}}, want: "cursor is not one this stream returned"},
		{name: "bad limit", key: key, params: url.Values{"limit": {"0"}}, want: `limit "0" is not a number from 1 to 5000`},
		{name: "bad since", key: key, params: url.Values{"since": {"yesterday"}}, want: `since "yesterday" is not an RFC 3339 time`},
		{name: "bad kind", key: StreamKey{Kind: "nope", Tenant: "t1", App: "shop", Name: "x"}, want: `kind "nope"`},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			status, body := tc.get(t, b.key, b.params)
			assert.Equal(t, http.StatusBadRequest, status)
			var p Problem
			require.NoError(t, json.Unmarshal(body, &p))
			assert.Contains(t, p.Detail, b.want)
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
