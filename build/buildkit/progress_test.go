package buildkit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"
)

var (
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1    = t0.Add(1500 * time.Millisecond)
	vFrom = digest.FromString("from")
	vRun  = digest.FromString("run")
)

func started(d digest.Digest, name string) *client.Vertex {
	return &client.Vertex{Digest: d, Name: name, Started: &t0}
}

func completed(d digest.Digest, name string, cached bool) *client.Vertex {
	return &client.Vertex{Digest: d, Name: name, Started: &t0, Completed: &t1, Cached: cached}
}

func failed(d digest.Digest, name, msg string) *client.Vertex {
	return &client.Vertex{Digest: d, Name: name, Started: &t0, Completed: &t1, Error: msg}
}

func logOf(d digest.Digest, data string) *client.VertexLog {
	return &client.VertexLog{Vertex: d, Stream: 1, Data: []byte(data)}
}

func TestTrackerLines(t *testing.T) {
	tests := []struct {
		name     string
		statuses []*client.SolveStatus
		want     []string // "step|level|message"
		done     int
		cached   int
	}{
		{
			name: "started, logs split across messages, completed",
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{started(vRun, "[2/2] RUN make")}},
				{Logs: []*client.VertexLog{logOf(vRun, "compiling a\ncompil")}},
				{Logs: []*client.VertexLog{logOf(vRun, "ing b\r\n\n")}},
				{Vertexes: []*client.Vertex{completed(vRun, "[2/2] RUN make", false)}},
			},
			want: []string{
				"[2/2] RUN make|info|#1 [2/2] RUN make",
				"[2/2] RUN make|info|#1 compiling a",
				"[2/2] RUN make|info|#1 compiling b",
				"[2/2] RUN make|info|#1 DONE 1.5s",
			},
			done: 1,
		},
		{
			name: "a cached vertex and a repeated status say each thing once",
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{started(vFrom, "[1/2] FROM base")}},
				{Vertexes: []*client.Vertex{completed(vFrom, "[1/2] FROM base", true)}},
				{Vertexes: []*client.Vertex{completed(vFrom, "[1/2] FROM base", true)}},
			},
			want: []string{
				"[1/2] FROM base|info|#1 [1/2] FROM base",
				"[1/2] FROM base|info|#1 CACHED",
			},
			done:   1,
			cached: 1,
		},
		{
			name: "an unterminated last line is written when the step fails",
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{started(vFrom, "[1/2] FROM base"), started(vRun, "[2/2] RUN exit 3")}},
				{Logs: []*client.VertexLog{logOf(vRun, "no newline")}},
				{Vertexes: []*client.Vertex{failed(vRun, "[2/2] RUN exit 3", "exit code: 3")}},
			},
			want: []string{
				"[1/2] FROM base|info|#1 [1/2] FROM base",
				"[2/2] RUN exit 3|info|#2 [2/2] RUN exit 3",
				"[2/2] RUN exit 3|info|#2 no newline",
				"[2/2] RUN exit 3|error|#2 ERROR: exit code: 3",
			},
		},
		{
			name: "a warning of the build",
			statuses: []*client.SolveStatus{
				{Warnings: []*client.VertexWarning{{Short: []byte("FromAsCasing")}}},
			},
			want: []string{"|warn|WARNING: FromAsCasing"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			tr := newTracker(func(l Line) { got = append(got, l.Step+"|"+l.Level+"|"+l.Message) }, 0)
			for _, s := range tc.statuses {
				tr.update(s)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.done, tr.done)
			require.Equal(t, tc.cached, tr.cached)
		})
	}
}

func TestBuildError(t *testing.T) {
	runErr := `process "/bin/sh -c make" did not complete successfully: exit code: 3`
	tests := []struct {
		name      string
		tail      int
		statuses  []*client.SolveStatus
		solveErr  error
		wantStep  string
		wantCode  int
		wantLines []string
		wantMsg   []string // substrings of Error()
	}{
		{
			name: "a RUN step that exits 3 keeps its last lines",
			tail: 2,
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{started(vRun, "[2/3] RUN make")}},
				{Logs: []*client.VertexLog{logOf(vRun, "one\ntwo\nthree\n")}},
				{Vertexes: []*client.Vertex{failed(vRun, "[2/3] RUN make", runErr)}},
			},
			solveErr:  errors.New("failed to solve: " + runErr),
			wantStep:  "[2/3] RUN make",
			wantCode:  3,
			wantLines: []string{"two", "three"},
			wantMsg:   []string{"step [2/3] RUN make failed with exit code 3", `process "/bin/sh -c make"`, "last output:\ntwo\nthree"},
		},
		{
			name: "a failing FROM has no exit code",
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{failed(vFrom, "[1/2] FROM nowhere/x:1", "nowhere/x:1: not found")}},
			},
			solveErr: errors.New("failed to solve: nowhere/x:1: not found"),
			wantStep: "[1/2] FROM nowhere/x:1",
			wantCode: -1,
			wantMsg:  []string{"step [1/2] FROM nowhere/x:1 failed: nowhere/x:1: not found"},
		},
		{
			name:     "a Dockerfile that does not parse fails no step",
			solveErr: errors.New("failed to solve: dockerfile parse error on line 2: unknown instruction: RUNN"),
			wantCode: -1,
			wantMsg:  []string{"build failed: failed to solve: dockerfile parse error on line 2: unknown instruction: RUNN"},
		},
		{
			name: "a cache import that found no cache is not the failing step",
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{failed(vFrom, "importing cache manifest from reg/web:buildcache", "reg/web:buildcache: not found")}},
				{Vertexes: []*client.Vertex{failed(vRun, "[3/3] RUN exit 3", `process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`)}},
			},
			solveErr: errors.New(`failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`),
			wantStep: "[3/3] RUN exit 3",
			wantCode: 3,
			wantMsg:  []string{"step [3/3] RUN exit 3 failed with exit code 3"},
		},
		{
			name: "a cancelled vertex is not the failing step",
			statuses: []*client.SolveStatus{
				{Vertexes: []*client.Vertex{failed(vFrom, "[1/2] FROM base", "context canceled")}},
				{Vertexes: []*client.Vertex{failed(vRun, "[2/2] RUN false", `process "/bin/sh -c false" did not complete successfully: exit code: 1`)}},
			},
			solveErr: errors.New("failed to solve: exit code: 1"),
			wantStep: "[2/2] RUN false",
			wantCode: 1,
			wantMsg:  []string{"step [2/2] RUN false failed with exit code 1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker(nil, tc.tail)
			for _, s := range tc.statuses {
				tr.update(s)
			}
			be := tr.buildError(tc.solveErr)
			require.Equal(t, tc.wantStep, be.Step)
			require.Equal(t, tc.wantCode, be.ExitCode)
			require.Equal(t, tc.wantLines, be.Lines)
			var err error = fmt.Errorf("wrapped: %w", be)
			var as *BuildError
			require.True(t, errors.As(err, &as))
			for _, s := range tc.wantMsg {
				require.Contains(t, be.Error(), s)
			}
			require.False(t, strings.HasSuffix(be.Error(), "\n"))
		})
	}
}

func TestSolveOpt(t *testing.T) {
	tests := []struct {
		name    string
		req     Request
		exports map[string]string
		attrs   map[string]string
		cache   bool
	}{
		{
			name:    "plain registry push with cache and args",
			req:     Request{Push: "127.0.0.1:5000/t/a/web:build-1", Insecure: true, CacheRef: "127.0.0.1:5000/t/a/web:buildcache", Target: "run", BuildArgs: map[string]string{"V": "1"}},
			exports: map[string]string{"name": "127.0.0.1:5000/t/a/web:build-1", "push": "true", "registry.insecure": "true"},
			attrs:   map[string]string{"filename": "Dockerfile", "target": "run", "build-arg:V": "1"},
			cache:   true,
		},
		{
			name:    "TLS registry, no cache",
			req:     Request{Push: "reg.example/t/a/web:build-1"},
			exports: map[string]string{"name": "reg.example/t/a/web:build-1", "push": "true"},
			attrs:   map[string]string{"filename": "Dockerfile"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := solveOpt(tc.req, "Dockerfile")
			require.Equal(t, "dockerfile.v0", opt.Frontend)
			require.Equal(t, tc.attrs, opt.FrontendAttrs)
			require.Len(t, opt.Exports, 1)
			require.Equal(t, client.ExporterImage, opt.Exports[0].Type)
			require.Equal(t, tc.exports, opt.Exports[0].Attrs)
			if !tc.cache {
				require.Empty(t, opt.CacheImports)
				require.Empty(t, opt.CacheExports)
				return
			}
			require.Equal(t, "registry", opt.CacheExports[0].Type)
			require.Equal(t, "max", opt.CacheExports[0].Attrs["mode"])
			require.Equal(t, tc.req.CacheRef, opt.CacheExports[0].Attrs["ref"])
			require.Equal(t, tc.req.CacheRef, opt.CacheImports[0].Attrs["ref"])
			require.Equal(t, "true", opt.CacheImports[0].Attrs["registry.insecure"])
		})
	}
}
