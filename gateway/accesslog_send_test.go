package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rainflow/rainflow/collector"
)

// TestAccessLogEncode holds the sender's batches to what encoding/json writes for the same lines (the
// NDJSON the collector's ingest reads), for tricky strings in every field a request or a label sets.
func TestAccessLogEncode(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 16, 5, 4, 123456789, time.UTC)
	web := accessOwner{tenant: "t1", app: "shop", component: "web"}
	tests := []struct {
		name  string
		owner accessOwner
		entry accessEntry
		end   time.Time
	}{
		{name: "plain", owner: web, end: at, entry: accessEntry{requestID: "9f3c", method: "GET", host: "shop.example.com",
			path: "/cart", remote: "10.0.0.9:51234", status: 200, bytes: 512}},
		{name: "quote backslash and slash", owner: web, end: at, entry: accessEntry{method: "GET", host: `a"b\c`,
			path: `/x"y\z/</script>&`, status: 404}},
		{name: "control characters", owner: web, end: at, entry: accessEntry{method: "GET", host: "h",
			path: "/\x00\x01\b\f\n\r\t\x1b\x1f\x7f", requestID: "id\u2028\u2029", status: 500}},
		{name: "invalid utf-8", owner: web, end: at, entry: accessEntry{method: "GET", host: "h\xff",
			path: "/\xc3\x28/\xe6\x97/\xf0\x9f\x98", remote: "\xfe", status: 200}},
		{name: "non-ascii", owner: web, end: at, entry: accessEntry{method: "GET", host: "bücher.example",
			path: "/日本/😀", status: 301}},
		{name: "empty fields", owner: accessOwner{tenant: "t", app: "a", component: "c"}, end: at,
			entry: accessEntry{status: 200}},
		{name: "labels with escapes", owner: accessOwner{tenant: "t\"1", app: "s\\hop", component: "w\neb\xff"},
			end: at, entry: accessEntry{method: "GET", host: "h", path: "/", status: 200}},
		{name: "time in a zone, whole second", owner: web, end: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -5*3600)),
			entry: accessEntry{method: "POST", host: "h", path: "/", status: 201}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := newAccessLog(AccessLogConfig{CollectorURL: "http://127.0.0.1:7482"}, slog.New(slog.DiscardHandler), newMetrics())
			ex := &exchange{upstream: &Upstream{Addr: "10.1.0.7:8080"}}
			elapsed := 1234567 * time.Nanosecond
			_, ok := c.queue.put(tt.owner, ex, &tt.entry, tt.entry.status, elapsed, tt.end)
			require.True(t, ok)
			require.Equal(t, 1, c.encodeBatch())

			want := collector.Line{Time: tt.end, Tenant: tt.owner.tenant, App: tt.owner.app, Component: tt.owner.component,
				Kind: collector.KindAccess, Level: accessLevel(tt.entry.status),
				Message: string(appendAccessMessage(nil, ex, &tt.entry, tt.entry.status, elapsed))}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf) // one line and its newline, as NDJSON
			enc.SetEscapeHTML(false)
			require.NoError(t, enc.Encode(&want))
			assert.Equal(t, buf.String(), string(c.body))
			assert.Equal(t, 0, c.queue.len(), "the encoded line's slot is released")
		})
	}
}

// BenchmarkAccessLogSend is the sender's cost of one line: encoding a batch of 1000 lines, gzip'ing it
// at BestSpeed or not, and posting it to a collector on 127.0.0.1 that discards it. cpu-ns/line is the
// process's CPU time a line (the discarding collector's share is a few reads); under a loaded machine
// it varies less than ns/line. The sender sends its batches as they are: it costs the gateway less.
func BenchmarkAccessLogSend(b *testing.B) {
	discard := discardCollector(b)
	for _, bc := range []struct {
		name string
		gzip bool
		post bool
	}{
		{name: "encode"},
		{name: "encode+gzip", gzip: true},
		{name: "encode+post", post: true},
		{name: "encode+gzip+post", gzip: true, post: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const batch = 1000
			m := newMetrics()
			access, c := newAccessLog(AccessLogConfig{CollectorURL: discard, BatchLines: batch, QueueSize: batch},
				slog.New(slog.DiscardHandler), m)
			c.update(Objects{Ingresses: []*networkingv1.Ingress{withLabels(ingress("t1", "web"), componentLabels("t1", "shop", "web"))}})
			ex := &exchange{ingress: "t1/web", backend: "t1/web:http", upstream: &Upstream{Addr: "10.1.0.7:8080"}}
			start := time.Now()
			var zbuf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&zbuf, gzip.BestSpeed)
			var sent int
			var cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range batch { // request ids and times differ, as they do
					logAccess(b.Context(), access, m, ex, accessEntry{requestID: strconv.FormatInt(start.UnixNano()+int64(i)*7919, 16),
						method: "GET", host: "shop.example.com", path: "/cart/" + strconv.Itoa(i%50),
						remote: "10.0.0.9:5" + strconv.Itoa(1000+i%64), status: 200, bytes: 512, start: start,
						end: start.Add(time.Duration(i) * 37 * time.Microsecond)})
				}
				b.StartTimer()
				cpu0 := processCPU(b)
				c.encodeBatch()
				body, encoding := c.body, ""
				if bc.gzip {
					zbuf.Reset()
					zw.Reset(&zbuf)
					_, _ = zw.Write(body)
					_ = zw.Close()
					body, encoding = zbuf.Bytes(), "gzip"
				}
				if bc.post {
					if err := c.client.SendNDJSON(b.Context(), body, encoding); err != nil {
						b.Fatal(err)
					}
				}
				sent = len(body)
				cpu += processCPU(b) - cpu0
			}
			b.ReportMetric(float64(cpu)/float64(b.N*batch), "cpu-ns/line")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/line")
			b.ReportMetric(float64(sent)/batch, "B/line")
		})
	}
}

// discardCollector is a collector ingest on 127.0.0.1 that answers 200 to every request and discards
// its body in large reads, so a benchmark's CPU is mostly the sender's.
func discardCollector(tb testing.TB) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 256<<10)
		for {
			if _, err := r.Body.Read(buf); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}
