package opevents

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeSender stores what it is sent, failing while down is set.
type fakeSender struct {
	mu    sync.Mutex
	down  bool
	got   []string
	calls int
	gate  chan struct{} // when set, each Send waits for a value
}

func (f *fakeSender) Send(ctx context.Context, lines []Line) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return errors.New("collector down")
	}
	for _, l := range lines {
		f.got = append(f.got, l.Message)
	}
	return nil
}

func (f *fakeSender) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakeSender) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

func requireMessages(t *testing.T, f *fakeSender, want []string) {
	t.Helper()
	got := f.messages()
	if len(got) != len(want) {
		t.Fatalf("sent %d lines, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d is %q, want %q (lines out of order or lost)", i, got[i], want[i])
		}
	}
}

func TestEmitterSendsInOrderAndFlushesOnClose(t *testing.T) {
	t.Parallel()
	f := &fakeSender{}
	e := NewEmitter(t.Context(), f, EmitterOptions{BatchLines: 7, FlushInterval: time.Hour}, nil)
	for _, m := range numbered(100) {
		e.Emit(Line{Message: m})
	}
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	requireMessages(t, f, numbered(100))
	if e.Sent() != 100 || e.Dropped() != 0 {
		t.Fatalf("sent %d, dropped %d; want 100, 0", e.Sent(), e.Dropped())
	}
}

func TestEmitterFlushesAfterInterval(t *testing.T) {
	t.Parallel()
	f := &fakeSender{}
	e := NewEmitter(t.Context(), f, EmitterOptions{FlushInterval: 10 * time.Millisecond}, nil)
	defer e.Close(t.Context())
	e.Emit(Line{Message: "one"})
	deadline := time.Now().Add(10 * time.Second)
	for len(f.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a lone line was not sent after the flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	requireMessages(t, f, []string{"one"})
}

func TestEmitterKeepsLinesWhileCollectorIsDown(t *testing.T) {
	t.Parallel()
	f := &fakeSender{down: true}
	e := NewEmitter(t.Context(), f, EmitterOptions{FlushInterval: 5 * time.Millisecond, BatchLines: 4}, nil)
	for _, m := range numbered(10) {
		e.Emit(Line{Message: m})
	}
	time.Sleep(50 * time.Millisecond) // some sends fail
	f.setDown(false)
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	requireMessages(t, f, numbered(10))
}

// A full queue drops its oldest lines; lines dropped while their send is in flight still arrive (they
// are counted as dropped all the same), and the lines queued behind them are not taken for them.
func TestEmitterDropsOldestWhenFull(t *testing.T) {
	t.Parallel()
	f := &fakeSender{gate: make(chan struct{})}
	e := NewEmitter(t.Context(), f, EmitterOptions{FlushInterval: time.Millisecond, BatchLines: 3, QueueLines: 5}, nil)
	for _, m := range numbered(3) {
		e.Emit(Line{Message: m}) // a full batch: the send of 0,1,2 starts and waits at the gate
	}
	time.Sleep(20 * time.Millisecond)
	for _, m := range []string{"3", "4", "5", "6", "7"} {
		e.Emit(Line{Message: m}) // the queue holds 5: emitting 5, 6 and 7 drops 0, 1 and 2
	}
	close(f.gate) // the in-flight send of 0,1,2 completes; later sends pass
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", e.Dropped())
	}
	requireMessages(t, f, numbered(8))
}
