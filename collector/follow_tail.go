package collector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tailRetry is how long a tail that failed or whose stream ended early waits before it returns (and the
// next reconcile starts it again), so a flapping stream does not spin.
const tailRetry = time.Second

// flushLines bounds the lines of one commit of a tail.
const flushLines = 1000

// logOpener opens a container's log, as CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx) does.
type logOpener func(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)

func kubeLogs(f *follower) logOpener {
	return func(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
		return f.kube.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
	}
}

// runTail reads one container instance's output from its committed position and commits it, every
// FollowFlush, until the output ends (a terminated or previous instance is then marked done) or ctx is
// done. What it has read when it stops is committed before it returns.
func (f *follower) runTail(ctx context.Context, t target) {
	log := f.logger.With("tenant", t.tenant, "app", t.app, "component", t.key.Name, "pod", t.pod,
		"container", t.container, "restarts", t.restarts)
	start, _ := f.pos.get(t.id)
	start.Tenant, start.App = t.tenant, t.app
	opts := &corev1.PodLogOptions{Container: t.container, Follow: t.mode == modeFollow, Previous: t.mode == modePrevious, Timestamps: true}
	if !start.Time.IsZero() {
		since := metav1.NewTime(start.Time) // whole seconds on the wire: the deduper skips what was committed
		opts.SinceTime = &since
	}
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	rc, err := f.openLog(readCtx, t.namespace, t.pod, opts)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("open container log", "err", err)
			pause(ctx, tailRetry)
		}
		return
	}
	defer rc.Close()
	raw := make(chan []byte, 256)
	readErr := make(chan error, 1)
	go func() { readErr <- readLog(readCtx, rc, f.maxMessage(), raw) }()

	d := &deduper{skipBefore: start.Time, skipAt: start.AtTime, pos: start}
	var pending []Line
	pendingBytes := 0
	flush := func() bool {
		if len(pending) == 0 {
			return true
		}
		// a stopped tail still commits what it has read: the committer runs until the follower is done
		if err := f.commit(context.WithoutCancel(ctx), runtimeBatch(t.key, pending)); err != nil {
			log.Error("commit runtime lines", "lines", len(pending), "err", err)
			return false
		}
		if err := f.pos.set(t.id, d.pos); err != nil {
			log.Error("save follow position", "err", err)
			return false
		}
		pending, pendingBytes = pending[:0], 0
		return true
	}
	ticker := time.NewTicker(f.flush)
	defer ticker.Stop()
	for {
		select {
		case b, ok := <-raw:
			if !ok {
				err := <-readErr
				if !flush() || ctx.Err() != nil {
					return
				}
				switch {
				case err != nil:
					log.Warn("read container log", "err", err)
					pause(ctx, tailRetry)
				case t.mode == modeFollow:
					pause(ctx, tailRetry) // the container ended (or the stream did): reconcile decides
				default:
					d.pos.Done = true
					if err := f.pos.set(t.id, d.pos); err != nil {
						log.Error("save follow position", "err", err)
					}
				}
				return
			}
			ts, msg := splitTimestamp(b, d.pos.Time)
			if !d.keep(ts) {
				continue
			}
			pending = append(pending, Line{Time: ts, Tenant: t.tenant, App: t.app, Component: t.key.Name,
				Level: LevelInfo, Message: msg, Kind: KindRuntime})
			pendingBytes += len(msg) + 256
			if (len(pending) >= flushLines || pendingBytes >= f.maxBatch/2) && !flush() {
				return
			}
		case <-ticker.C:
			if !flush() {
				return
			}
		}
	}
}

// maxMessage bounds a runtime line's message so that the whole line stays under MaxLineBytes.
func (f *follower) maxMessage() int {
	if f.maxLine > 2048 {
		return f.maxLine - 1024
	}
	return f.maxLine / 2
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deduper skips what a resumed read gets again: every line before the committed position's time and
// the first AtTime lines at it; pos is the position after the last line kept.
type deduper struct {
	skipBefore time.Time
	skipAt     int
	pos        followPos
}

func (d *deduper) keep(ts time.Time) bool {
	if ts.Before(d.skipBefore) {
		return false
	}
	if ts.Equal(d.skipBefore) && d.skipAt > 0 {
		d.skipAt--
		return false
	}
	switch {
	case ts.After(d.pos.Time):
		d.pos.Time, d.pos.AtTime = ts, 1
	case ts.Equal(d.pos.Time):
		d.pos.AtTime++
	}
	return true
}

// splitTimestamp splits "2006-01-02T15:04:05.999999999Z07:00 message" (the kubelet's Timestamps
// format); a line without a timestamp gets last.
func splitTimestamp(b []byte, last time.Time) (time.Time, string) {
	if i := bytes.IndexByte(b, ' '); i > 0 {
		if ts, err := time.Parse(time.RFC3339Nano, string(b[:i])); err == nil {
			return ts, string(b[i+1:])
		}
	}
	return last, string(b)
}

// readLog sends each line of r (without its line ending, cut to maxLine bytes) to out until r ends,
// and closes out. A last line without a newline is sent when r ends cleanly.
func readLog(ctx context.Context, r io.Reader, maxLine int, out chan<- []byte) error {
	defer close(out)
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxLine - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || errors.Is(err, io.EOF) && len(line) > 0 {
			send := bytes.TrimRight(bytes.TrimSuffix(line, []byte("\n")), "\r")
			select {
			case out <- bytes.Clone(send):
			case <-ctx.Done():
				return ctx.Err()
			}
			line = line[:0]
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// runtimeBatch encodes a tail's lines as a batch of one stream, as parseBatch does for ingest.
func runtimeBatch(key StreamKey, lines []Line) *batch {
	g := &group{key: key, lines: make([]Line, len(lines))}
	copy(g.lines, lines)
	var payload bytes.Buffer
	enc := json.NewEncoder(&payload)
	enc.SetEscapeHTML(false)
	for i := range g.lines {
		payload.Reset()
		_ = enc.Encode(&g.lines[i]) // a Line always encodes
		g.records = appendRecord(g.records, bytes.TrimSuffix(payload.Bytes(), []byte("\n")))
	}
	return &batch{groups: []*group{g}, bytes: len(g.records), lines: len(g.lines)}
}
