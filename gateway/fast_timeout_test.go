package gateway

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// timedFastPlane serves one route to a fixed backend through a fast server with the given client
// timeouts and returns its address.
func timedFastPlane(t *testing.T, headerTimeout, idleTimeout time.Duration) string {
	t.Helper()
	var table atomic.Pointer[Table]
	pool := NewPool()
	table.Store(Compile(Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", PathType: PathPrefix,
		Ingress: "shop/web", Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{fixedBackend(t)}}}}}, pool))
	logger := slog.New(slog.DiscardHandler)
	p := newProxy(&table, logger)
	m := newMetrics()
	srv, _ := startFastServer(t, withRequestID(withAccessLog(p, &accessLog{logger: logger}, m)), fastServerConfig{proxy: p, pool: pool,
		logger: logger, access: &accessLog{logger: logger}, metrics: m, headerTimeout: headerTimeout, idleTimeout: idleTimeout})
	t.Cleanup(srv.Close)
	t.Cleanup(p.transport.CloseIdleConnections)
	return strings.TrimPrefix(srv.URL, "http://")
}

// waitClosed reads conn until the gateway closes it and returns when it did; it fails the test when
// the gateway sends anything or keeps the connection past limit.
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) time.Time {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(limit)))
	b := make([]byte, 1)
	n, err := conn.Read(b)
	closed := time.Now()
	require.Zero(t, n, "the gateway answers nothing")
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the gateway kept the connection open past %v", limit)
	return closed
}

const timedRequest = "GET /cart HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"

// TestFastPathTimeouts checks that a request head that does not arrive in time, and a kept-alive
// connection left idle, are closed on time: not before the timeout (an idle connection may close up to
// idleSlack early) and not long after it.
func TestFastPathTimeouts(t *testing.T) {
	t.Parallel()
	const headerTimeout, idleTimeout = 300 * time.Millisecond, 600 * time.Millisecond
	slack := idleSlack(idleTimeout)
	for _, tt := range []struct {
		name string
		// requests are sent one after another, each after waiting pause and reading its answer; then
		// the client writes partial (if any) and waits.
		requests int
		pause    time.Duration
		partial  string
		want     time.Duration // closed this long after the last answer (or the partial head)
	}{
		{name: "idle after one request", requests: 1, want: idleTimeout - slack},
		{name: "idle after requests closer than the slack", requests: 5, pause: slack / 4, want: idleTimeout - slack},
		{name: "idle deadline moves with each request", requests: 3, pause: idleTimeout / 2, want: idleTimeout - slack},
		{name: "slow head on a new connection", partial: "GET /cart HTTP/1.1\r\nHost: shop", want: headerTimeout},
		{name: "slow head after a request", requests: 2, partial: "GET /cart HTTP/1.1\r\n", want: headerTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := timedFastPlane(t, headerTimeout, idleTimeout)
			conn, err := net.Dial("tcp", gw)
			require.NoError(t, err)
			defer conn.Close()
			br := bufio.NewReader(conn)
			for i := range tt.requests {
				if i > 0 {
					time.Sleep(tt.pause)
				}
				_, err := io.WriteString(conn, timedRequest)
				require.NoError(t, err)
				require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
				res, err := http.ReadResponse(br, nil)
				require.NoError(t, err, "request %d answered on the kept-alive connection", i+1)
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				require.Equal(t, http.StatusOK, res.StatusCode)
			}
			if tt.partial != "" {
				_, err := io.WriteString(conn, tt.partial)
				require.NoError(t, err)
			}
			from := time.Now()
			closed := waitClosed(t, conn, 10*time.Second)
			assert.GreaterOrEqual(t, closed.Sub(from), tt.want, "closed too early")
			assert.Less(t, closed.Sub(from), tt.want+5*time.Second, "closed long after its timeout")
		})
	}
}
