package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The benchmarks of make bench-collector, each meant to run once (-benchtime=1x) and bounded in size:
// BenchmarkCollectorDisk is the disk's limit, BenchmarkCollectorIngest the collector's acknowledged
// ingest over HTTP on 127.0.0.1, BenchmarkCollectorTail the live tail's latency with 1,000 readers.
// BENCH_COLLECTOR_MIB sets how much NDJSON the first two write (default 256).

const (
	benchLinesPerRequest = 1000
	benchClients         = 32
	benchStreams         = 8
)

// benchBodies are NDJSON requests of benchLinesPerRequest access-log-like lines, one per stream.
func benchBodies() [][]byte {
	bodies := make([][]byte, benchStreams)
	for s := range bodies {
		var buf bytes.Buffer
		for i := range benchLinesPerRequest {
			fmt.Fprintf(&buf, `{"kind":"runtime","tenant":"t1","app":"shop","component":"web-%d","level":"info","message":"GET /api/items/%d 200 1.2ms user-agent=bench"}`+"\n", s, i)
		}
		bodies[s] = buf.Bytes()
	}
	return bodies
}

// benchRequests is how many requests make BENCH_COLLECTOR_MIB of NDJSON.
func benchRequests(b *testing.B, bodySize int) int {
	mib := 256
	if s := os.Getenv("BENCH_COLLECTOR_MIB"); s != "" {
		if _, err := fmt.Sscan(s, &mib); err != nil {
			b.Fatalf("BENCH_COLLECTOR_MIB %q: %v", s, err)
		}
	}
	return max(1, mib<<20/bodySize)
}

// BenchmarkCollectorDisk writes the same NDJSON into one file and fsyncs it: the disk's limit.
func BenchmarkCollectorDisk(b *testing.B) {
	bodies := benchBodies()
	n := benchRequests(b, len(bodies[0]))
	for b.Loop() {
		f, err := os.Create(filepath.Join(b.TempDir(), "disk.ndjson"))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := range n {
			if _, err := f.Write(bodies[i%len(bodies)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		f.Close()
		bytes := float64(n * len(bodies[0]))
		b.ReportMetric(bytes/(1<<20)/elapsed.Seconds(), "MiB/s")
		b.ReportMetric(float64(n*benchLinesPerRequest)/elapsed.Seconds(), "lines/s")
	}
}

// BenchmarkCollectorIngest sends the same NDJSON with concurrent clients, each request acknowledged
// only once durable. CPU per line is the whole process's (collector and clients) over the lines.
// BENCH_COLLECTOR_GZIP=1 sends the bodies gzip'd (compressed once, before the clock starts: a client's
// compression is on its own machine); MiB/s still counts the NDJSON.
func BenchmarkCollectorIngest(b *testing.B) {
	bodies := benchBodies()
	n := benchRequests(b, len(bodies[0]))
	ndjsonBytes := len(bodies[0])
	encoding := ""
	if os.Getenv("BENCH_COLLECTOR_GZIP") == "1" {
		encoding = "gzip"
		for i, body := range bodies {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			if _, err := zw.Write(body); err != nil {
				b.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				b.Fatal(err)
			}
			bodies[i] = buf.Bytes()
		}
	}
	for b.Loop() {
		tc := startCollector(b, Config{DataDir: b.TempDir()})
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
		var next atomic.Int64
		var failed atomic.Value
		cpu0 := cpuTime()
		start := time.Now()
		var wg sync.WaitGroup
		for range benchClients {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
					if err := postBenchEncoded(hc, tc.base, bodies[i%int64(len(bodies))], encoding); err != nil {
						failed.Store(err)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		lines := float64(n * benchLinesPerRequest)
		b.ReportMetric(float64(n*ndjsonBytes)/(1<<20)/elapsed.Seconds(), "MiB/s")
		b.ReportMetric(lines/elapsed.Seconds(), "lines/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/lines, "cpu-ns/line")
		fsyncs := tc.metrics.fsync.(prometheus.Metric)
		var m dto.Metric
		if err := fsyncs.Write(&m); err == nil && m.Histogram.GetSampleCount() > 0 {
			h := m.Histogram
			b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1000, "fsync-ms")
			b.ReportMetric(float64(h.GetSampleCount())/elapsed.Seconds(), "fsyncs/s")
		}
		tc.stop()
	}
}

func postBench(hc *http.Client, base string, body []byte) error {
	return postBenchEncoded(hc, base, body, "")
}

// postBenchEncoded posts an ingest body with a Content-Encoding (none when empty).
func postBenchEncoded(hc *http.Client, base string, body []byte, encoding string) error {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/ingest", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("ingest answered %d", res.StatusCode)
	}
	return nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollectorTail opens 1,000 tails over 10 streams and commits 10-line requests at a steady
// pace: the latency of a line is from its commit (the commit listener) to its receipt by a reader.
func BenchmarkCollectorTail(b *testing.B) {
	const readers, streams, requests, perRequest = 1000, 10, 200, 10
	for b.Loop() {
		var commitMu sync.Mutex
		committed := make(map[string]time.Time)
		tc := startCollector(b, Config{DataDir: b.TempDir()}, func(c *Collector) {
			c.OnCommit(func(_ StreamKey, lines []Line) {
				now := time.Now()
				commitMu.Lock()
				for _, l := range lines {
					committed[l.Message] = now
				}
				commitMu.Unlock()
			})
		})
		wsBase := strings.Replace(tc.base, "http", "ws", 1)
		lat := make([][]time.Duration, readers)
		var wg sync.WaitGroup
		var ready sync.WaitGroup
		ready.Add(readers)
		for r := range readers {
			key := eventStream(fmt.Sprint("op-", r%streams))
			conn, _, err := websocket.Dial(b.Context(), wsBase+"/v1/streams/"+key.String()+"/tail?"+url.Values{}.Encode(), nil)
			if err != nil {
				b.Fatal(err)
			}
			conn.SetReadLimit(4 << 20)
			wg.Go(func() {
				defer conn.CloseNow()
				ready.Done()
				for got := 0; got < requests/streams*perRequest; {
					_, msg, err := conn.Read(b.Context())
					if err != nil {
						b.Error(err)
						return
					}
					now := time.Now()
					var m TailMessage
					if err := json.Unmarshal(msg, &m); err != nil || m.Dropped > 0 {
						b.Errorf("tail message %s: %v", msg, err)
						return
					}
					commitMu.Lock()
					for _, l := range m.Lines {
						lat[r] = append(lat[r], now.Sub(committed[l.Message]))
					}
					commitMu.Unlock()
					got += len(m.Lines)
				}
			})
		}
		ready.Wait()
		hc := &http.Client{}
		start := time.Now()
		for i := range requests {
			var body bytes.Buffer
			for j := range perRequest {
				fmt.Fprintf(&body, `{"kind":"event","tenant":"t1","app":"shop","operation":"op-%d","message":"request %d line %d"}`+"\n", i%streams, i, j)
			}
			if err := postBench(hc, tc.base, body.Bytes()); err != nil {
				b.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		elapsed := time.Since(start)
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		slices.Sort(all)
		if len(all) == 0 {
			b.Fatal("no line received")
		}
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "deliveries/s")
		tc.stop()
	}
}
