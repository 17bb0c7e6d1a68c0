package collector

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// fakeLogs is the kubelet's log endpoint for the follow tests (the fake clientset's GetLogs always
// answers "fake logs"): each container instance has timestamped lines; a read honors Container,
// Previous, Follow and SinceTime with the API's whole-second precision.
type fakeLogs struct {
	mu      sync.Mutex
	lines   map[string][]fakeLine // by instance: namespace/pod/container/instance
	current map[string]int        // by namespace/pod/container: the running instance
	ended   map[string]bool       // instances that have stopped
	changed chan struct{}         // closed and replaced on every write
	opens   []corev1.PodLogOptions
}

type fakeLine struct {
	ts  time.Time
	msg string
}

func newFakeLogs() *fakeLogs {
	return &fakeLogs{lines: make(map[string][]fakeLine), current: make(map[string]int), ended: make(map[string]bool),
		changed: make(chan struct{})}
}

func (f *fakeLogs) instance(ns, pod, container string, n int) string {
	return fmt.Sprintf("%s/%s/%s/%d", ns, pod, container, n)
}

// write appends a line to the running instance of a container.
func (f *fakeLogs) write(ns, pod, container string, ts time.Time, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inst := f.instance(ns, pod, container, f.current[ns+"/"+pod+"/"+container])
	f.lines[inst] = append(f.lines[inst], fakeLine{ts: ts, msg: msg})
	f.notify()
}

// restart ends the running instance of a container and starts the next one.
func (f *fakeLogs) restart(ns, pod, container string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := ns + "/" + pod + "/" + container
	f.ended[f.instance(ns, pod, container, f.current[c])] = true
	f.current[c]++
	f.notify()
}

func (f *fakeLogs) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeLogs) open(ctx context.Context, ns, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	f.opens = append(f.opens, *opts.DeepCopy())
	n := f.current[ns+"/"+pod+"/"+opts.Container]
	if opts.Previous {
		if n == 0 {
			f.mu.Unlock()
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", opts.Container, pod)
		}
		n--
	}
	f.mu.Unlock()
	inst := f.instance(ns, pod, opts.Container, n)
	var since time.Time
	if opts.SinceTime != nil {
		since = opts.SinceTime.Time.Truncate(time.Second)
	}
	pr, pw := io.Pipe()
	go func() {
		sent := 0
		for {
			f.mu.Lock()
			lines, ended, changed := f.lines[inst], f.ended[inst], f.changed
			f.mu.Unlock()
			for ; sent < len(lines); sent++ {
				if l := lines[sent]; !l.ts.Before(since) {
					if _, err := fmt.Fprintf(pw, "%s %s\n", l.ts.UTC().Format(time.RFC3339Nano), l.msg); err != nil {
						return
					}
				}
			}
			if !opts.Follow || ended {
				pw.Close()
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	return pr, nil
}
