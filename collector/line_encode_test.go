package collector

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendLine holds the hand-written encoder to encoding/json's output, which the read path's raw
// text pre-filter and the time index's fast path rely on.
func TestAppendLine(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 7, 1, 2, 300400500, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		line Line
	}{
		{name: "minimal", line: Line{Time: at, Tenant: "t1", App: "shop", Kind: KindRuntime, Message: "hello"}},
		{name: "every field", line: Line{Time: at.UTC(), Tenant: "t1", App: "shop", Component: "web", Operation: "op",
			Workflow: "wf", Run: "run", Activity: "act", Attempt: 3, Step: "build", Level: "warn", Message: "m", Kind: KindEvent}},
		{name: "whole second", line: Line{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Tenant: "t", App: "a", Kind: KindBuild}},
		{name: "escapes", line: Line{Time: at, Tenant: "t", App: "a", Kind: KindAccess,
			Message: "quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f nul \x00 esc \x1b del \x7f <&> é 日本 \u2028 \u2029 😀"}},
		{name: "invalid utf-8", line: Line{Time: at, Tenant: "t", App: "a", Kind: KindAccess, Message: "bad \xff\xfe end \xe6\x97"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			require.NoError(t, enc.Encode(&tt.line))
			assert.Equal(t, string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))), string(appendLine(nil, &tt.line)))
		})
	}
}

func BenchmarkAppendLine(b *testing.B) {
	l := Line{Time: time.Now(), Tenant: "t1", App: "shop", Component: "web-1", Level: "info",
		Message: "GET /api/items/17 200 1.2ms user-agent=bench", Kind: KindRuntime}
	var buf []byte
	for b.Loop() {
		buf = appendLine(buf[:0], &l)
	}
}
