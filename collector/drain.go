package collector

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"
)

// A drain empties a replica that is leaving for good (a scale-down), so that its lines stay readable
// once it is gone. POST /v1/admin/drain starts it (or answers the progress of the one running); GET
// answers the progress. The replica then:
//
//  1. owns nothing: every app's owner is its owner among the other members (rendezvous without this
//     one), so ingest, forwarded ingest included, and tails go there; reads keep answering this
//     replica's part from its store;
//  2. hands the follow positions of the runtime output it followed to the apps' new owners (its tails
//     stop first and commit what they read, as in a membership handover: follow_handover.go);
//  3. hands every stream it stores (its own, and copies it was handed by an earlier drain) to the
//     stream's owner among the others, segment by segment (drain_send.go, drain_import.go), and repeats
//     until a pass hands nothing new (a line acknowledged just as the drain began).
//
// When the drain is done, a read through any member returns the stream's lines once: this replica's
// part from it while it is a member, from the copy once it is removed from the members. A drain that
// fails, or a replica killed in the middle of one, is run again: segments already handed are not sent
// again, and a segment handed twice is stored once.
//
// The drain is not remembered across a restart: a drained replica that is restarted owns its apps
// again until it is drained again. Drain one replica at a time.

// Drain states.
const (
	DrainRunning = "running"
	DrainDone    = "done"
	DrainFailed  = "failed"
)

// maxDrainPasses bounds the passes over the streams: after the first, only lines acknowledged just as
// the drain began can remain.
const maxDrainPasses = 5

// DrainStatus is the progress of a drain.
type DrainStatus struct {
	// State is DrainRunning, DrainDone, DrainFailed, or empty when no drain was started.
	State string `json:"state"`
	// Streams is how many streams this pass hands over; StreamsDone how many of them are handed.
	Streams     int `json:"streams"`
	StreamsDone int `json:"streamsDone"`
	// Pass is the pass over the streams (1 is the first).
	Pass int `json:"pass"`
	// SegmentsSent and BytesSent count what was sent to the other members, every pass together.
	SegmentsSent int   `json:"segmentsSent"`
	BytesSent    int64 `json:"bytesSent"`
	// Positions is how many follow positions of runtime output were handed over.
	Positions int `json:"positions"`
	// Error says why the drain failed.
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
}

// drainer is the drain of this replica, and the lock of imports handed to it.
type drainer struct {
	mu     sync.Mutex
	status DrainStatus
	cancel context.CancelFunc
	done   chan struct{}

	importMu sync.Mutex // imports replace a segment one at a time
}

// drainRoutes adds the drain's endpoints (this file and drain_import.go) to mux.
func (c *Collector) drainRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/admin/drain", c.handleDrainStart)
	mux.HandleFunc("GET /v1/admin/drain", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, c.drainStatus())
	})
	mux.HandleFunc("GET /v1/admin/import/{origin}/{kind}/{tenant}/{app}/{name}", c.handleImportManifest)
	mux.HandleFunc("PUT /v1/admin/import/{origin}/{kind}/{tenant}/{app}/{name}/{segment}", c.handleImportSegment)
	mux.HandleFunc("POST /v1/admin/import/{origin}/positions", c.handleImportPositions)
}

func (c *Collector) drainStatus() DrainStatus {
	c.drain.mu.Lock()
	defer c.drain.mu.Unlock()
	return c.drain.status
}

// progress changes the status under its lock.
func (c *Collector) progress(change func(*DrainStatus)) {
	c.drain.mu.Lock()
	defer c.drain.mu.Unlock()
	change(&c.drain.status)
}

// handleDrainStart is POST /v1/admin/drain: it starts the drain unless one runs, and answers 202 with
// the progress.
func (c *Collector) handleDrainStart(w http.ResponseWriter, r *http.Request) {
	rn := c.live(w)
	if rn == nil {
		return
	}
	if c.members == nil {
		writeProblem(w, http.StatusConflict, "this collector shares no apps with other replicas: there is nobody to hand its streams to", 0)
		return
	}
	if _, ok := c.members.ring.Load().ownerExcept("", "", c.cfg.Self); !ok {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("%s is the only member: there is nobody to hand its streams to", c.cfg.Self), 0)
		return
	}
	c.drain.mu.Lock()
	defer c.drain.mu.Unlock()
	if c.drain.status.State == DrainRunning {
		writeJSON(w, http.StatusAccepted, c.drain.status)
		return
	}
	c.members.startDraining()
	rn.hub.close() // this replica's tails get no more lines: their readers reconnect, to the new owners
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	done := make(chan struct{})
	c.drain.cancel, c.drain.done = cancel, done
	c.drain.status = DrainStatus{State: DrainRunning, Started: time.Now()}
	c.logger.Info("drain started: handing every stream to the other members")
	go func() {
		defer close(done)
		defer cancel()
		err := c.runDrain(ctx, rn)
		c.progress(func(s *DrainStatus) {
			s.Finished, s.State = time.Now(), DrainDone
			if err != nil {
				s.State, s.Error = DrainFailed, err.Error()
			}
		})
		st := c.drainStatus()
		if err != nil {
			c.logger.Error("drain failed", "err", err, "segments", st.SegmentsSent, "bytes", st.BytesSent)
			return
		}
		c.logger.Info("drain done: this replica can be removed", "segments", st.SegmentsSent, "bytes", st.BytesSent,
			"positions", st.Positions, "took", st.Finished.Sub(st.Started).String())
	}()
	writeJSON(w, http.StatusAccepted, c.drain.status)
}

// stopDrain cancels a running drain and waits for it; Run calls it before closing the store.
func (c *Collector) stopDrain() {
	c.drain.mu.Lock()
	cancel, done := c.drain.cancel, c.drain.done
	c.drain.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// startDraining makes this replica own nothing from now on and tells the watchers (the follower).
func (m *membership) startDraining() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining.Swap(true) {
		return
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// runDrain hands the follow positions, then the streams, pass after pass until one hands nothing.
func (c *Collector) runDrain(ctx context.Context, rn *running) error {
	if f := c.follower.Load(); f != nil {
		n, err := c.handPositions(ctx, f)
		c.progress(func(s *DrainStatus) { s.Positions += n })
		if err != nil {
			return err
		}
	}
	for pass := 1; pass <= maxDrainPasses; pass++ {
		c.progress(func(s *DrainStatus) { s.Pass = pass })
		sent, err := c.drainPass(ctx, rn)
		if err != nil {
			return err
		}
		if sent == 0 {
			return nil
		}
	}
	return fmt.Errorf("streams still changed after %d passes", maxDrainPasses)
}

// storedStream is a stream this replica stores: its own part (origin is this replica) or a copy of
// origin's part.
type storedStream struct {
	origin string
	key    StreamKey
}

// storedStreams lists the streams under DataDir: its own and its imported copies.
func (c *Collector) storedStreams() ([]storedStream, error) {
	var out []storedStream
	roots := map[string]string{c.cfg.Self: c.cfg.DataDir}
	origins, err := filepath.Glob(filepath.Join(c.cfg.DataDir, importedDir, "*"))
	if err != nil {
		return nil, fmt.Errorf("list imported copies: %w", err)
	}
	for _, o := range origins {
		roots[filepath.Base(o)] = o
	}
	for origin, root := range roots {
		keys, err := streamKeys(root)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.Validate() == nil {
				out = append(out, storedStream{origin: origin, key: k})
			}
		}
	}
	return out, nil
}

// handOver hands one stored stream to its owner among the others and returns how many segments it sent.
func (c *Collector) handOver(ctx context.Context, rn *running, s storedStream) (int, error) {
	owner, local, ok := c.members.owner(s.key.Tenant, s.key.App)
	if !ok || local {
		return 0, fmt.Errorf("hand over %s: no other member owns app %s/%s", s.key, s.key.Tenant, s.key.App)
	}
	if owner.Name == s.origin { // a copy of the owner's own part: it holds the lines itself
		return 0, nil
	}
	n, err := c.handStream(ctx, rn, s, owner)
	if err != nil {
		return n, fmt.Errorf("hand %s (from %s) to %s: %w", s.key, s.origin, owner.Name, err)
	}
	return n, nil
}

// drainPass hands every stored stream to its owner among the others and returns how many segments it
// sent.
func (c *Collector) drainPass(ctx context.Context, rn *running) (int, error) {
	streams, err := c.storedStreams()
	if err != nil {
		return 0, err
	}
	c.progress(func(s *DrainStatus) { s.Streams, s.StreamsDone = len(streams), 0 })
	var mu sync.Mutex
	sent, failed := 0, 0
	var firstErr error
	jobs := make([]func() error, len(streams))
	for i, s := range streams {
		jobs[i] = func() error {
			n, err := c.handOver(ctx, rn, s)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			if err != nil {
				failed++
				firstErr = cmp.Or(firstErr, err)
				return err
			}
			c.progress(func(st *DrainStatus) { st.StreamsDone++ })
			return nil
		}
	}
	_ = runLimited(jobs, 4) // counted above
	if failed > 0 {
		return sent, fmt.Errorf("%d of %d streams not handed over: %w", failed, len(streams), firstErr)
	}
	return sent, nil
}
