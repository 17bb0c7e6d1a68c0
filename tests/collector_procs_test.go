package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
)

// collectorProc is a `rainflow collector` process the test started from the built binary, on its own
// 127.0.0.1 port and data dir. It is stopped by t.Cleanup, even when the test fails.
type collectorProc struct {
	t       *testing.T
	name    string
	addr    string // host:port, kept across restarts
	dataDir string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// newCollectorProc prepares a replica named name (its data dir and address); start runs it.
func newCollectorProc(t *testing.T, name string) *collectorProc {
	t.Helper()
	dir := t.TempDir()
	p := &collectorProc{t: t, name: name, addr: freeAddr(t), dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "collector.log")}
	t.Cleanup(func() {
		if p.running() {
			p.kill()
		}
		if t.Failed() {
			t.Logf("last lines of collector %s's log:\n%s", p.name, tail(p.logPath, 40))
		}
	})
	return p
}

// collectorBin is the rainflow binary under test: the one TestMain built, or without the stack
// (RAINFLOW_TESTS_NO_STACK=1) the one `make build` built.
func collectorBin() string {
	if devBin != "" {
		return devBin
	}
	return filepath.Join(repoRoot, ".rainflow", "bin", "rainflow")
}

// member is the replica's --members entry.
func (p *collectorProc) member() string { return p.name + "=" + p.base() }

func (p *collectorProc) base() string { return "http://" + p.addr }

// start runs the collector with members (none: a single collector owning every app) and extra flags,
// and waits until it answers /healthz.
func (p *collectorProc) start(members []string, extra ...string) {
	t := p.t
	t.Helper()
	require.False(t, p.running(), "collector %s already runs", p.name)
	args := []string{"collector", "--listen", p.addr, "--data-dir", p.dataDir, "--sweep-interval", "-1s"}
	if len(members) > 0 {
		args = append(args, "--self", p.name, "--members", strings.Join(members, ","))
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	cmd := exec.Command(collectorBin(), append(args, extra...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exited) }()

	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Get(p.base() + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("collector %s exited at start; its log:\n%s", p.name, tail(p.logPath, 30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector %s does not answer /healthz after a minute: %v", p.name, err)
		}
	}
}

func (p *collectorProc) running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop asks the collector to stop (SIGTERM) and waits; past 30 s it is killed and the test fails.
func (p *collectorProc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.kill()
		p.t.Fatalf("collector %s did not stop within 30 s of SIGTERM", p.name)
	}
}

// kill kills the collector with SIGKILL and waits for it.
func (p *collectorProc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// ingestLines posts lines as one NDJSON request to base and returns the status and body; err is a
// transport error (the collector may be gone).
func ingestLines(ctx context.Context, c *http.Client, base string, lines []collector.Line) (int, string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range lines {
		if err := enc.Encode(&lines[i]); err != nil {
			return 0, "", fmt.Errorf("encode line: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/ingest", &buf)
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post ingest: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, "", fmt.Errorf("read ingest answer: %w", err)
	}
	return res.StatusCode, string(body), nil
}

// mustIngest posts lines and requires them acknowledged.
func mustIngest(t *testing.T, ctx context.Context, base string, lines []collector.Line) {
	t.Helper()
	code, body, err := ingestLines(ctx, http.DefaultClient, base, lines)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "ingest of %d lines through %s: %s", len(lines), base, body)
	var res collector.IngestResult
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, len(lines), res.Accepted)
}

// readLocal reads a whole stream as stored on the replica at base itself: the forwarded header makes
// it answer from its own disk instead of proxying to the owner.
func readLocal(t *testing.T, ctx context.Context, base string, key collector.StreamKey) []collector.Line {
	t.Helper()
	return readStreamWith(t, ctx, base, key, http.Header{collector.ForwardedHeader: {"test"}})
}

// messagesOf returns the lines' messages in order.
func messagesOf(lines []collector.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Message
	}
	return out
}

// metricValue returns the value of an unlabelled metric on the collector's /metrics (0 when absent).
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_, err := fmt.Sscanf(v, "%g", &f)
			require.NoError(t, err, "metric line %q", line)
			return f
		}
	}
	return 0
}
