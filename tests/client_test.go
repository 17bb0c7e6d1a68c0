package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// apiClient speaks to the REST API as a user does.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(base, token string) *apiClient {
	return &apiClient{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// problem is an application/problem+json body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

func (c *apiClient) do(t *testing.T, method, path string, body any, header ...string) apiResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must answers the decoded body of a request that must answer status.
func (c *apiClient) must(t *testing.T, status int, method, path string, body any, out any, header ...string) apiResponse {
	t.Helper()
	r := c.do(t, method, path, body, header...)
	require.Equal(t, status, r.Status, "%s %s answered %d: %s", method, path, r.Status, r.Body)
	if out != nil {
		require.NoError(t, json.Unmarshal(r.Body, out), "decode %s", r.Body)
	}
	return r
}

// problemOf asserts that r is a problem+json answer with the given status and returns it.
func problemOf(t *testing.T, r apiResponse, status int) problem {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p problem
	require.NoError(t, json.Unmarshal(r.Body, &p))
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Detail, "a problem must say what was wrong")
	return p
}

func kubeClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	require.NoError(t, err)
	// client-go's default 5 QPS would hold back the tests that change objects several times a second
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs
}

// uniqueName is a DNS label unique to this run.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
