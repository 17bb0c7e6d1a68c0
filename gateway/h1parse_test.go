package gateway

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRequestHead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		head       string
		wantErr    error
		wantSlow   bool
		wantMethod string
		wantTarget string
		wantHost   string
		wantLength int64
		wantChunk  bool
		wantClose  bool
		wantConn   []string
	}{
		{name: "get", head: "GET /a?b=c HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: t\r\n\r\n",
			wantMethod: "GET", wantTarget: "/a?b=c", wantHost: "shop.example.com", wantLength: -1},
		{name: "post with length", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n",
			wantMethod: "POST", wantTarget: "/", wantHost: "h", wantLength: 12},
		{name: "equal lengths", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n",
			wantMethod: "POST", wantTarget: "/", wantHost: "h", wantLength: 3},
		{name: "chunked", head: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
			wantMethod: "POST", wantTarget: "/", wantHost: "h", wantLength: -1, wantChunk: true},
		{name: "connection tokens", head: "GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Hop, close\r\n\r\n",
			wantMethod: "GET", wantTarget: "/", wantHost: "h", wantLength: -1, wantClose: true, wantConn: []string{"X-Hop"}},
		{name: "value trimmed", head: "GET / HTTP/1.1\r\nHost: \t h \r\n\r\n",
			wantMethod: "GET", wantTarget: "/", wantHost: "h", wantLength: -1},

		{name: "length and chunked", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: errHeadSmuggling},
		{name: "chunked then length", head: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", wantErr: errHeadSmuggling},
		{name: "differing lengths", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", wantErr: errHeadSmuggling},
		{name: "differing length list", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3,4\r\n\r\n", wantErr: errHeadSmuggling},
		{name: "signed length", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", wantErr: errHeadMalformed},
		{name: "empty length", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", wantErr: errHeadMalformed},
		{name: "huge length", head: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456789\r\n\r\n", wantErr: errHeadMalformed},
		{name: "obs-fold", head: "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n", wantErr: errHeadMalformed},
		{name: "space before colon", head: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", wantErr: errHeadMalformed},
		{name: "no host", head: "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", wantErr: errHeadMalformed},
		{name: "two hosts", head: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", wantErr: errHeadMalformed},
		{name: "control in value", head: "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", wantErr: errHeadMalformed},
		{name: "cr in value", head: "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", wantErr: errHeadMalformed},
		{name: "bad method", head: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", wantErr: errHeadMalformed},
		{name: "bad version", head: "GET / HTTX/1.1\r\nHost: h\r\n\r\n", wantErr: errHeadMalformed},
		{name: "two spaces", head: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", wantErr: errHeadMalformed},
		{name: "control in target", head: "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", wantErr: errHeadMalformed},

		{name: "http/1.0", head: "GET / HTTP/1.0\r\n\r\n", wantSlow: true},
		{name: "upgrade", head: "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", wantSlow: true},
		{name: "expect", head: "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", wantSlow: true},
		{name: "gzip coding", head: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantSlow: true},
		{name: "absolute target", head: "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", wantSlow: true},
		{name: "escaped path", head: "GET /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n", wantSlow: true},
		{name: "bare lf", head: "GET / HTTP/1.1\nHost: h\n\n", wantSlow: true},
	}
	var h h1Head
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseRequestHead(tt.head, &h)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.wantSlow {
				assert.NotEmpty(t, h.slow)
				return
			}
			assert.Empty(t, h.slow)
			assert.Equal(t, tt.wantMethod, h.method)
			assert.Equal(t, tt.wantTarget, h.target)
			assert.Equal(t, tt.wantHost, h.host)
			assert.Equal(t, tt.wantLength, h.contentLength)
			assert.Equal(t, tt.wantChunk, h.chunked)
			assert.Equal(t, tt.wantClose, h.close)
			assert.Equal(t, len(tt.wantConn), len(h.connection))
			for i := range tt.wantConn {
				assert.Equal(t, tt.wantConn[i], h.connection[i])
			}
		})
	}
}

func TestParseResponseHead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		head       string
		wantErr    bool
		wantStatus int
		wantLength int64
		wantChunk  bool
		wantClose  bool
	}{
		{name: "length", head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", wantStatus: 200, wantLength: 5},
		{name: "chunked wins", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", wantStatus: 200, wantLength: -1, wantChunk: true},
		{name: "close", head: "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n", wantStatus: 404, wantLength: -1, wantClose: true},
		{name: "http/1.0", head: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", wantStatus: 200, wantLength: 1, wantClose: true},
		{name: "http/1.0 keep-alive", head: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", wantStatus: 200, wantLength: 1},
		{name: "h2c upgrade offer", head: "HTTP/1.1 200 OK\r\nUpgrade: h2,h2c\r\nConnection: Upgrade\r\nContent-Length: 1\r\n\r\n", wantStatus: 200, wantLength: 1},
		{name: "no reason", head: "HTTP/1.1 204\r\n\r\n", wantStatus: 204, wantLength: -1},
		{name: "bad status", head: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "bad version", head: "HTTP/2 200 OK\r\n\r\n", wantErr: true},
		{name: "differing lengths", head: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: true},
	}
	var h h1Head
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseResponseHead(tt.head, &h)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, h.status)
			assert.Equal(t, tt.wantLength, h.contentLength)
			assert.Equal(t, tt.wantChunk, h.chunked)
			assert.Equal(t, tt.wantClose, h.close)
		})
	}
}

// TestParseRequestHeadAllocs: a warm head parses without allocating.
func TestParseRequestHeadAllocs(t *testing.T) {
	head := "GET /api/v1/users?page=2 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: bench\r\n" +
		"Accept: */*\r\nCookie: session=abc; team=blue\r\nX-Request-ID: abc\r\n\r\n"
	var h h1Head
	allocs := testing.AllocsPerRun(100, func() {
		if err := parseRequestHead(head, &h); err != nil {
			t.Fatal(err)
		}
		_ = h.cookie("team")
	})
	assert.Zero(t, allocs)
}

// FuzzParseRequestHead checks the parser never panics, and that a head it accepts for the fast path is
// one net/http reads the same way: same method, target, Host and body framing.
func FuzzParseRequestHead(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close, x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, head string) {
		var h h1Head
		n := headEnd([]byte(head))
		if n == 0 {
			return
		}
		head = head[:n]
		if err := parseRequestHead(head, &h); err != nil || h.slow != "" {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("fast path took a head net/http refuses: %v\n%q", err, head)
		}
		if req.Method != h.method || req.RequestURI != h.target || req.Host != h.host {
			t.Fatalf("fast path read %q %q %q, net/http %q %q %q", h.method, h.target, h.host, req.Method, req.RequestURI, req.Host)
		}
		chunked := len(req.TransferEncoding) > 0
		if chunked != h.chunked || (!chunked && req.ContentLength != max(h.contentLength, 0)) {
			t.Fatalf("framing: fast path chunked %v length %d, net/http %v %d", h.chunked, h.contentLength, req.TransferEncoding, req.ContentLength)
		}
	})
}
