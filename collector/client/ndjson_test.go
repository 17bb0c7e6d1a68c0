package client_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/collector/client"
)

// ndjson is lines as a sender encodes them itself: collector.LineEncoder, a newline after each.
func ndjson(lines ...client.Line) []byte {
	var enc collector.LineEncoder
	var b []byte
	for i := range lines {
		b = append(enc.AppendLine(b, &lines[i]), '\n')
	}
	return b
}

// TestSendNDJSON: a batch the caller encoded reaches a real collector as it is or gzip'd, through
// retries; a refused one is not retried; the caller may overwrite its buffer once the call returned.
func TestSendNDJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		encoding  string
		statuses  []int // answered before the collector is reached
		wantErr   bool
		wantCalls int64
		wantLines []string
	}{
		{name: "plain", wantCalls: 1, wantLines: []string{"a", "b \"quoted\" \x01"}},
		{name: "gzip", encoding: "gzip", wantCalls: 1, wantLines: []string{"a", "b \"quoted\" \x01"}},
		{name: "retried after 503", statuses: []int{503}, wantCalls: 2, wantLines: []string{"a", "b \"quoted\" \x01"}},
		{name: "refused", statuses: []int{400}, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, calls, base := flaky(t, tt.statuses...)
			body := ndjson(event("op-ndjson", "a"), event("op-ndjson", "b \"quoted\" \x01"))
			if tt.encoding == "gzip" {
				var zb bytes.Buffer
				zw := gzip.NewWriter(&zb)
				_, err := zw.Write(body)
				require.NoError(t, err)
				require.NoError(t, zw.Close())
				body = zb.Bytes()
			}
			err := (&client.Client{BaseURL: srv.URL}).SendNDJSON(t.Context(), body, tt.encoding)
			clear(body) // the caller reuses its buffer
			if tt.wantErr {
				var refused *client.Error
				require.ErrorAs(t, err, &refused)
				assert.Equal(t, http.StatusBadRequest, refused.Status)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantCalls, calls.Load())
			assert.Equal(t, tt.wantLines, readMessages(t, base, "op-ndjson"))
		})
	}
	assert.NoError(t, (&client.Client{BaseURL: "http://127.0.0.1:1"}).SendNDJSON(t.Context(), nil, ""), "nothing to send")
}
