package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// followPos is how far one container instance's output has been committed. An instance is a pod uid,
// a container name and a restart count (containerID).
type followPos struct {
	Tenant string `json:"tenant"`
	App    string `json:"app"`
	// Time is the timestamp of the last committed line; AtTime is how many committed lines carry
	// exactly that timestamp. A resumed read asks the kubelet for lines since Time (it has second
	// precision, so it gets some again) and skips every line before Time and the first AtTime lines at it.
	Time   time.Time `json:"time"`
	AtTime int       `json:"atTime,omitempty"`
	// Done says the instance has ended and its output was read to the end.
	Done bool `json:"done,omitempty"`
}

// after says whether p is further along than o.
func (p followPos) after(o followPos) bool {
	switch {
	case p.Done != o.Done:
		return p.Done
	case !p.Time.Equal(o.Time):
		return p.Time.After(o.Time)
	default:
		return p.AtTime > o.AtTime
	}
}

// containerID names a container instance in positions.
func containerID(podUID, container string, restarts int32) string {
	return fmt.Sprintf("%s/%s/%d", podUID, container, restarts)
}

// positions are the follow positions of every container instance this replica has followed, kept in
// one small JSON file that is replaced atomically (write, fsync, rename, fsync the directory) after
// each commit of followed lines, so that a restarted collector resumes where the committed lines end.
type positions struct {
	path string

	mu sync.Mutex
	m  map[string]followPos
}

func openPositions(path string) (*positions, error) {
	p := &positions{path: path, m: make(map[string]followPos)}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read follow positions: %w", err)
	}
	if err := json.Unmarshal(b, &p.m); err != nil {
		return nil, fmt.Errorf("decode follow positions %s: %w", path, err)
	}
	return p, nil
}

func (p *positions) get(id string) (followPos, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.m[id]
	return pos, ok
}

// set records the position of id durably.
func (p *positions) set(id string, pos followPos) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[id] = pos
	return p.save()
}

// forApp returns the positions of the containers of one app.
func (p *positions) forApp(tenant, app string) map[string]followPos {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]followPos)
	for id, pos := range p.m {
		if pos.Tenant == tenant && pos.App == app {
			out[id] = pos
		}
	}
	return out
}

// merge takes every position of in that is further along than the one recorded, durably.
func (p *positions) merge(in map[string]followPos) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := false
	for id, pos := range in {
		if cur, ok := p.m[id]; !ok || pos.after(cur) {
			p.m[id] = pos
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return p.save()
}

// prune forgets the positions keep refuses (containers of pods that are gone), durably.
func (p *positions) prune(keep func(id string) bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := len(p.m)
	maps.DeleteFunc(p.m, func(id string, _ followPos) bool { return !keep(id) })
	if len(p.m) == before {
		return nil
	}
	return p.save()
}

// save replaces the file with the current positions; p.mu is held.
func (p *positions) save() error {
	b, err := json.Marshal(p.m)
	if err != nil {
		return fmt.Errorf("encode follow positions: %w", err)
	}
	tmp := p.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create follow positions: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write follow positions: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("replace follow positions: %w", err)
	}
	return syncDir(filepath.Dir(p.path))
}
