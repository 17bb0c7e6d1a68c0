package gateway

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/contract"
)

func TestAccessLogConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     AccessLogConfig
		wantErr string
	}{
		{name: "off", cfg: AccessLogConfig{}},
		{name: "collector", cfg: AccessLogConfig{CollectorURL: "http://127.0.0.1:7482"}},
		{name: "not a URL", cfg: AccessLogConfig{CollectorURL: "127.0.0.1:7482"}, wantErr: "is not an http(s)://host:port URL"},
		{name: "negative queue", cfg: AccessLogConfig{QueueSize: -1}, wantErr: "queue size -1 is negative"},
		{name: "negative interval", cfg: AccessLogConfig{BatchInterval: -time.Second}, wantErr: "batch interval -1s is negative"},
		{name: "negative batch", cfg: AccessLogConfig{BatchLines: -1}, wantErr: "batch lines -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
			assert.ErrorContains(t, Config{AccessLog: tt.cfg}.Validate(), tt.wantErr, "Config.Validate checks it")
		})
	}
}

// TestAccessLogLinesToCollector: the access line of a route that belongs to a component goes to that
// component's access stream, with the level of its status; other routes' lines only go to the log.
func TestAccessLogLinesToCollector(t *testing.T) {
	t.Parallel()
	objs := Objects{
		Ingresses: []*networkingv1.Ingress{
			withLabels(ingress("t1", "web-www"), componentLabels("t1", "shop", "web")),
			ingress("t1", "plain"),
		},
		Services: []*corev1.Service{
			withLabels(service("t1", "api", "http", 80), componentLabels("t1", "shop", "api")),
			service("t1", "other", "http", 80),
		},
	}
	tests := []struct {
		name    string
		ingress string
		backend string
		status  int
		want    collector.StreamKey // zero: no line is sent
		level   string
	}{
		{name: "labelled ingress", ingress: "t1/web-www", backend: "t1/other:80", status: 200,
			want: accessKey("t1", "shop", "web"), level: collector.LevelInfo},
		{name: "labelled backend service", ingress: "t1/plain", backend: "t1/api:http", status: 404,
			want: accessKey("t1", "shop", "api"), level: collector.LevelWarn},
		{name: "default backend of a component", backend: "t1/api:80", status: 502,
			want: accessKey("t1", "shop", "api"), level: collector.LevelError},
		{name: "no component", ingress: "t1/plain", backend: "t1/other:80", status: 200},
		{name: "no route", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fc := newFakeCollector(t)
			var out syncBuffer
			m := newMetrics()
			access, c := newAccessLog(AccessLogConfig{CollectorURL: fc.url, BatchInterval: 10 * time.Millisecond},
				slog.New(slog.NewJSONHandler(&out, nil)), m)
			c.update(objs)
			stop := c.start(t.Context())
			ex := &exchange{ingress: tt.ingress, backend: tt.backend, upstream: &Upstream{Addr: "10.1.0.7:8080"}}
			logAccess(t.Context(), access, m, ex, accessEntry{requestID: "req-1", method: "GET", host: "shop.example.com",
				path: "/cart", remote: "10.0.0.9:51234", status: tt.status, bytes: 512, start: time.Now()})
			stop() // sends what is queued

			assert.Contains(t, out.String(), `"msg":"http request"`, "the line is logged either way")
			lines := fc.received()
			if tt.want == (collector.StreamKey{}) {
				assert.Empty(t, lines)
				return
			}
			require.Len(t, lines, 1)
			assert.Equal(t, tt.want, lines[0].Key())
			assert.Equal(t, tt.level, lines[0].Level)
			assert.Regexp(t, `^GET shop\.example\.com/cart `+strconv.Itoa(tt.status)+
				` 512B [0-9.]+[µnm]?s request_id=req-1 remote=10\.0\.0\.9:51234 upstream=10\.1\.0\.7:8080$`, lines[0].Message)
			assert.WithinDuration(t, time.Now(), lines[0].Time, time.Minute)
			assert.Equal(t, 1.0, value(t, m.accessSent))
		})
	}
}

// TestAccessLogFullQueueDrops: with the collector stuck, requests go on at full speed; the lines that
// do not fit the queue are dropped, counted and reported, and the queued ones are sent once the
// collector answers again.
func TestAccessLogFullQueueDrops(t *testing.T) {
	t.Parallel()
	fc := newFakeCollector(t)
	release := fc.block()
	var out syncBuffer
	m := newMetrics()
	const queue, requests = 10, 1000
	access, c := newAccessLog(AccessLogConfig{CollectorURL: fc.url, QueueSize: queue, BatchLines: 1,
		BatchInterval: time.Millisecond}, slog.New(slog.NewJSONHandler(&out, nil)), m)
	c.update(Objects{Ingresses: []*networkingv1.Ingress{withLabels(ingress("t1", "web"), componentLabels("t1", "shop", "web"))}})
	stop := c.start(t.Context())

	// A bounded loop of requests: if adding a line waited for the stuck collector, it would not end.
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for range requests {
			logAccess(t.Context(), access, m, &exchange{ingress: "t1/web"}, accessEntry{method: "GET", start: time.Now()})
		}
	}()
	select {
	case <-loopDone:
	case <-time.After(30 * time.Second):
		t.Fatal("logging requests blocked on a stuck collector")
	}
	dropped := value(t, m.accessDropped.WithLabelValues("queue-full"))
	// At most the queue and the one line of the batch being sent were kept.
	assert.GreaterOrEqual(t, dropped, float64(requests-queue-1))

	release()
	stop()
	sent := value(t, m.accessSent)
	assert.Equal(t, float64(requests), dropped+sent, "every line is sent or counted as dropped")
	assert.Zero(t, value(t, m.accessDropped.WithLabelValues("send-failed")))
	assert.Len(t, fc.received(), int(sent))
	assert.Contains(t, out.String(), `"msg":"access log lines dropped"`)
	assert.Regexp(t, `"queue_full":[1-9][0-9]*`, out.String())
}

// TestGatewayAccessLogToCollector runs a whole gateway with a collector: a request routed by a
// component's Ingress lands in the component's access stream; a request no route matches does not.
func TestGatewayAccessLogToCollector(t *testing.T) {
	t.Parallel()
	fc := newFakeCollector(t)
	backend := echoBackend(t, "a")
	_, port := splitHostPort(t, backend)
	kube := fake.NewClientset(
		service("shop", "web", "http", 80),
		slice("shop", "web-a", "web", "http", port, ep{"127.0.0.1", true}),
		withLabels(ingress("shop", "web", rule("shop.example.com", httpPath("/", prefix, "web", 80))),
			componentLabels("t1", "shop", "web")),
	)
	g := runTestGateway(t, Config{AccessLog: AccessLogConfig{CollectorURL: fc.url, BatchInterval: 10 * time.Millisecond}}, kube)
	require.Eventually(t, func() bool { return g.HTTPAddr() != nil }, 5*time.Second, 5*time.Millisecond)
	data := "http://" + g.HTTPAddr().String()
	require.Eventually(t, func() bool { return status(t, data+"/cart", "shop.example.com") == http.StatusOK },
		10*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusNotFound, status(t, data+"/", "unknown.example.com"))
	res, _ := get(t, data+"/cart?x=1", "shop.example.com", http.Header{HeaderRequestID: {"probe-1"}})
	require.Equal(t, http.StatusOK, res.StatusCode)

	var got collector.Line
	require.Eventually(t, func() bool {
		for _, l := range fc.received() {
			if strings.Contains(l.Message, "request_id=probe-1 ") {
				got = l
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the request's line reaches the collector")
	assert.Equal(t, accessKey("t1", "shop", "web"), got.Key())
	assert.Regexp(t, `^GET shop\.example\.com/cart 200 1B \S+ request_id=probe-1 remote=127\.0\.0\.1:\d+ upstream=127\.0\.0\.1:\d+$`, got.Message)
	for _, l := range fc.received() {
		assert.NotContains(t, l.Message, "unknown.example.com", "a request without a component's route is not sent")
	}
}

// fakeCollector is an httptest collector ingest that keeps the lines it is sent.
type fakeCollector struct {
	url   string
	mu    sync.Mutex
	lines []collector.Line
	gate  chan struct{} // while open, ingest requests wait
}

func newFakeCollector(t *testing.T) *fakeCollector {
	t.Helper()
	fc := &fakeCollector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := r.Header.Get("Content-Encoding")
		if r.URL.Path != "/v1/ingest" || enc != "" && enc != "gzip" { // what the collector's ingest takes
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		fc.mu.Lock()
		gate := fc.gate
		fc.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		var body io.Reader = r.Body
		if enc == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		var batch []collector.Line
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l collector.Line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			batch = append(batch, l)
		}
		fc.mu.Lock()
		fc.lines = append(fc.lines, batch...)
		fc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	fc.url = srv.URL
	return fc
}

// block makes ingest requests wait until release is called.
func (fc *fakeCollector) block() (release func()) {
	gate := make(chan struct{})
	fc.mu.Lock()
	fc.gate = gate
	fc.mu.Unlock()
	return func() {
		fc.mu.Lock()
		fc.gate = nil
		fc.mu.Unlock()
		close(gate)
	}
}

func (fc *fakeCollector) received() []collector.Line {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]collector.Line(nil), fc.lines...)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func componentLabels(tenant, app, component string) map[string]string {
	return map[string]string{contract.LabelTenant: tenant, contract.LabelApp: app, contract.LabelComponent: component}
}

// withLabels sets an object's labels and returns it.
func withLabels[T interface{ SetLabels(map[string]string) }](obj T, labels map[string]string) T {
	obj.SetLabels(labels)
	return obj
}

func accessKey(tenant, app, component string) collector.StreamKey {
	return collector.StreamKey{Kind: collector.KindAccess, Tenant: tenant, App: app, Name: component}
}
