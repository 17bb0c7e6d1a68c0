package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// BenchmarkUnionRead measures a read of a page of 500 lines of a 2,000-line stream: from one collector
// alone, and through one replica of 3 that asks every member for its part (the stream on one of them,
// or spread over all three after moves). One op is one page.
func BenchmarkUnionRead(b *testing.B) {
	const total, limit = 2000, 500
	cases := []struct {
		name     string
		replicas int
		spread   bool
	}{
		{name: "single", replicas: 1},
		{name: "replicas=3/one-member", replicas: 3},
		{name: "replicas=3/spread", replicas: 3, spread: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var nodes []*testCollector
			if tc.replicas == 1 {
				nodes = []*testCollector{startCollector(b, Config{DataDir: b.TempDir()})}
			} else {
				nodes = startCluster(b, tc.replicas).nodes
			}
			key := webStream("app-1")
			parts := make([][]Line, len(nodes))
			for i := range total {
				n := 0
				if tc.spread {
					n = i * len(nodes) / total // each member holds a run of the stream, as after moves
				}
				parts[n] = append(parts[n], Line{Kind: KindRuntime, Tenant: "t1", App: "app-1", Component: "web",
					Message: fmt.Sprintf("GET /api/items/%d 200 1.2ms", i)})
			}
			for i, n := range nodes {
				if err := postLocal(n.base, parts[i]); err != nil {
					b.Fatal(err)
				}
			}
			u := nodes[0].base + "/v1/streams/" + key.String() + "/lines?" + url.Values{"limit": {fmt.Sprint(limit)}}.Encode()
			start := time.Now()
			for b.Loop() {
				res, err := http.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			b.ReportMetric(float64(b.N*limit)/time.Since(start).Seconds(), "lines/s")
		})
	}
}

// postLocal stores lines on the collector at base itself, whoever owns their app.
func postLocal(base string, lines []Line) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range lines {
		if err := enc.Encode(&lines[i]); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(http.MethodPost, base+"/v1/ingest", &buf)
	if err != nil {
		return err
	}
	req.Header.Set(ForwardedHeader, "bench")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("ingest: status %d", res.StatusCode)
	}
	return nil
}
