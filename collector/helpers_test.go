package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// running collector of a test.
type testCollector struct {
	*Collector
	base string
	stop func() // cancels Run and waits for it
}

// startCollector runs a collector on 127.0.0.1 over dir (a fresh temp dir when empty).
func startCollector(t testing.TB, cfg Config, setup ...func(*Collector)) *testCollector {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen = "127.0.0.1:0"
	c, err := New(cfg, nil)
	require.NoError(t, err)
	for _, s := range setup {
		s(c)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	require.Eventually(t, func() bool { return c.Addr() != nil }, 30*time.Second, time.Millisecond, "the collector listens") // a bound, not a goal: -race on a loaded machine is slow to start
	stopped := false
	tc := &testCollector{Collector: c, base: "http://" + c.Addr().String()}
	tc.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(tc.stop)
	return tc
}

// ndjson encodes lines as an NDJSON body.
func ndjson(t *testing.T, lines ...Line) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, l := range lines {
		b, err := json.Marshal(l)
		require.NoError(t, err)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// post sends an ingest request and returns the status and body.
func (tc *testCollector) post(t *testing.T, body []byte, encoding string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tc.base+"/v1/ingest", bytes.NewReader(body))
	require.NoError(t, err)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

// ingest sends lines and requires them acknowledged.
func (tc *testCollector) ingest(t *testing.T, lines ...Line) {
	t.Helper()
	status, body := tc.post(t, ndjson(t, lines...), "")
	require.Equal(t, http.StatusOK, status, "ingest: %s", body)
	require.JSONEq(t, fmt.Sprintf(`{"accepted":%d}`, len(lines)), string(body))
}

// read reads one page of a stream.
func (tc *testCollector) read(t *testing.T, key StreamKey, params url.Values) Page {
	t.Helper()
	status, body := tc.get(t, key, params)
	require.Equal(t, http.StatusOK, status, "read: %s", body)
	var p Page
	require.NoError(t, json.Unmarshal(body, &p))
	return p
}

func (tc *testCollector) get(t *testing.T, key StreamKey, params url.Values) (int, []byte) {
	t.Helper()
	res, err := http.Get(tc.base + "/v1/streams/" + key.String() + "/lines?" + params.Encode())
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, body
}

// readAll follows the cursor to the end of a stream.
func (tc *testCollector) readAll(t *testing.T, key StreamKey) []Line {
	t.Helper()
	var all []Line
	params := url.Values{"limit": {"1000"}}
	for {
		p := tc.read(t, key, params)
		all = append(all, p.Lines...)
		if !p.More {
			return all
		}
		params.Set("cursor", p.Cursor)
	}
}

// event is an event line of operation op in tenant t1, app shop.
func event(op, msg string) Line {
	return Line{Kind: KindEvent, Tenant: "t1", App: "shop", Operation: op, Message: msg}
}

func eventStream(op string) StreamKey {
	return StreamKey{Kind: KindEvent, Tenant: "t1", App: "shop", Name: op}
}

func messages(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Message
	}
	return out
}
