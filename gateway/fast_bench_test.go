package gateway

import (
	"bufio"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// fixedBackend answers every request on a connection with the same small response, allocating
// nothing per request, so a benchmark's allocations are the gateway's.
func fixedBackend(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReaderSize(conn, fastBufferSize)
				for {
					n, err := peekHead(br, nil)
					if err != nil {
						return
					}
					_, _ = br.Discard(n)
					if _, err := conn.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkDataPlane sends keep-alive GET requests one after another over one client connection
// through the whole data plane (request id, routing, proxying, access log and metrics) to a backend
// on 127.0.0.1 that allocates nothing: with net/http and httputil.ReverseProxy, and with the fast path.
// The client allocates nothing either. cpu-ns/op is the process's CPU time (user and system) a request:
// the gateway's, the client's and the backend's; under a loaded machine it varies less than ns/op.
func BenchmarkDataPlane(b *testing.B) {
	addr := fixedBackend(b)
	for _, bc := range []struct {
		name string
		fast bool
	}{{name: "net-http", fast: false}, {name: "fast", fast: true}} {
		b.Run(bc.name, func(b *testing.B) {
			var table atomic.Pointer[Table]
			pool := NewPool()
			table.Store(Compile(Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", PathType: PathPrefix,
				Ingress: "shop/web", Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{addr}}}}}, pool))
			logger := slog.New(slog.DiscardHandler)
			p := newProxy(&table, logger)
			srv, _ := startDataPlane(b, bc.fast, p, pool, logger, newMetrics())
			defer srv.Close()
			defer p.transport.CloseIdleConnections()
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, fastBufferSize)
			request := []byte("GET /index.html HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			var res h1Head
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				if _, err := conn.Write(request); err != nil {
					b.Fatal(err)
				}
				n, err := peekHead(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := br.Peek(n)
				// res is not used past the Discard: it may alias br's buffer.
				if err := parseResponseHead(unsafe.String(&raw[0], len(raw)), &res); err != nil || res.status != 200 {
					b.Fatalf("answer %d: %v", res.status, err)
				}
				_, _ = br.Discard(n + int(res.contentLength))
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
