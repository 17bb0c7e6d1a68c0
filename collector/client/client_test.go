package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/collector/client"
)

func event(op, msg string) client.Line {
	return client.Line{Kind: collector.KindEvent, Tenant: "t1", App: "shop", Operation: op, Message: msg}
}

// runCollector runs a real collector for the test and returns its base URL.
func runCollector(t *testing.T) string {
	t.Helper()
	c, err := collector.New(collector.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool { return c.Addr() != nil }, 5*time.Second, time.Millisecond)
	return "http://" + c.Addr().String()
}

func readMessages(t *testing.T, base, op string) []string {
	t.Helper()
	res, err := http.Get(base + "/v1/streams/event/t1/shop/" + op + "/lines?limit=5000")
	require.NoError(t, err)
	defer res.Body.Close()
	var p collector.Page
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	var out []string
	for _, l := range p.Lines {
		out = append(out, l.Message)
	}
	return out
}

func TestSendRoundTrip(t *testing.T) {
	t.Parallel()
	base := runCollector(t)
	c := &client.Client{BaseURL: base + "/", MaxBatchBytes: 2048} // small batches: several requests, in order
	var lines []client.Line
	var want []string
	for i := range 300 {
		msg := fmt.Sprintf("line %03d %s", i, strings.Repeat("x", i%50))
		lines = append(lines, event("op-client", msg))
		want = append(want, msg)
	}
	require.NoError(t, c.Send(t.Context(), lines))
	assert.Equal(t, want, readMessages(t, base, "op-client"))
	assert.NoError(t, c.Send(t.Context(), nil), "nothing to send")
}

// flaky answers with the given statuses in turn, then forwards to a real collector.
func flaky(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int64, string) {
	t.Helper()
	base := runCollector(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if n <= len(statuses) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(statuses[n-1])
			_ = json.NewEncoder(w).Encode(collector.Problem{Status: statuses[n-1], Detail: "injected", Line: 7})
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, base
}

func TestSendRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		statuses  []int
		maxWait   time.Duration
		wantErr   bool
		wantCalls int64
		wantLines int
	}{
		{name: "5xx then success", statuses: []int{503, 500}, wantCalls: 3, wantLines: 2},
		{name: "429 then success", statuses: []int{429}, wantCalls: 2, wantLines: 2},
		{name: "4xx is not retried", statuses: []int{400}, wantErr: true, wantCalls: 1},
		{name: "gives up at MaxWait", statuses: []int{503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503},
			maxWait: 150 * time.Millisecond, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, calls, base := flaky(t, tt.statuses...)
			c := &client.Client{BaseURL: srv.URL, MaxWait: tt.maxWait}
			err := c.Send(t.Context(), []client.Line{event("op-retry", "a"), event("op-retry", "b")})
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "(0 of 2 stored)")
			} else {
				require.NoError(t, err)
			}
			if tt.wantCalls > 0 {
				assert.Equal(t, tt.wantCalls, calls.Load())
			}
			assert.Len(t, readMessages(t, base, "op-retry"), tt.wantLines)
		})
	}
}

func TestSendRefused(t *testing.T) {
	t.Parallel()
	base := runCollector(t)
	c := &client.Client{BaseURL: base}
	err := c.Send(t.Context(), []client.Line{event("op-ok", "fine"), {Kind: "nope", Message: "bad"}})
	var refused *client.Error
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, http.StatusBadRequest, refused.Status)
	assert.Equal(t, 2, refused.Line)
	assert.Contains(t, refused.Detail, `kind "nope"`)
	assert.Empty(t, readMessages(t, base, "op-ok"), "the request was refused whole")
}

func TestSendUnreachableIsBoundedByContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := (&client.Client{BaseURL: url}).Send(ctx, []client.Line{event("op-x", "a")})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}
