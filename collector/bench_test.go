package collector

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngest measures acknowledged (written and fsync'd) lines per second through the HTTP API, with
// concurrent clients each sending requests of batch lines to one of 8 streams. One op is one request.
func BenchmarkIngest(b *testing.B) {
	for _, batch := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			tc := startCollector(b, Config{DataDir: b.TempDir()})
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var next atomic.Int64
			bodies := make([][]byte, 8)
			for s := range bodies {
				var buf bytes.Buffer
				for i := range batch {
					fmt.Fprintf(&buf, `{"kind":"runtime","tenant":"t1","app":"shop","component":"web-%d","level":"info","message":"GET /api/items/%d 200 1.2ms user-agent=bench"}`+"\n", s, i)
				}
				bodies[s] = buf.Bytes()
			}
			b.SetBytes(int64(len(bodies[0])))
			b.SetParallelism(4)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				body := bodies[next.Add(1)%int64(len(bodies))]
				for pb.Next() {
					res, err := hc.Post(tc.base+"/v1/ingest", "application/x-ndjson", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "lines/s")
		})
	}
}
