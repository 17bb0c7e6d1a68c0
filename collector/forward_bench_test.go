package collector

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkForwardIngest measures acknowledged lines per second of requests of 300 lines over 30 apps,
// sent by 4 concurrent clients: to one collector alone, and to one replica of 3 that commits its third
// and forwards the other two thirds to their owners. One op is one request.
func BenchmarkForwardIngest(b *testing.B) {
	var buf bytes.Buffer
	const lines = 300
	for i := range lines {
		fmt.Fprintf(&buf, `{"kind":"runtime","tenant":"t1","app":"app-%d","component":"web","message":"GET /api/items/%d 200 1.2ms user-agent=bench"}`+"\n", i%30, i)
	}
	body := buf.Bytes()
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			var base string
			if n == 1 {
				base = startCollector(b, Config{DataDir: b.TempDir()}).base
			} else {
				base = startCluster(b, n).nodes[0].base
			}
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.SetBytes(int64(len(body)))
			b.SetParallelism(4)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := hc.Post(base+"/v1/ingest", "application/x-ndjson", bytes.NewReader(body))
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
			b.ReportMetric(float64(b.N*lines)/time.Since(start).Seconds(), "lines/s")
		})
	}
}

// BenchmarkRingOwner measures one owner lookup among n members.
func BenchmarkRingOwner(b *testing.B) {
	for _, n := range []int{3, 16} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			ms := make([]Member, n)
			for i := range ms {
				ms[i] = Member{Name: fmt.Sprintf("collector-%d", i)}
			}
			r := newRing(ms)
			apps := make([]string, 1000)
			for i := range apps {
				apps[i] = fmt.Sprintf("app-%d", i)
			}
			for i := 0; b.Loop(); i++ {
				_, _ = r.owner("t1", apps[i%len(apps)])
			}
		})
	}
}
