package activities

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// Apply elision. A server-side apply costs the API server a merge and a managedFields pass even when
// it changes nothing. The worker remembers, per object, what its last apply sent (a keyed hash of the
// apply configuration's JSON) and the resourceVersion that apply answered. When the next apply would
// send the same configuration and the cached object still has that resourceVersion (so nothing, no
// kubectl edit, no other manager, no delete, changed it since), the apply cannot change anything and
// is skipped. The cache lags the API by a watch event: a change made in the last moments before a
// skipped apply is seen by the next one.

// memoKey names an applied object.
type memoKey struct{ kind, ns, name string }

// memoEntry is what the last apply of an object sent (hash) and answered (resourceVersion).
type memoEntry struct {
	hash [sha256.Size]byte
	rv   string
}

// applyMemo is the bounded memo of the worker's last applies; the cache's delete events evict.
type applyMemo struct {
	mu     sync.Mutex
	max    int
	secret []byte // keys the hash, so that the memo holds no plain digest of a Secret's data
	m      map[memoKey]memoEntry
}

func newApplyMemo(maxEntries int) *applyMemo {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &applyMemo{max: maxEntries, secret: secret, m: map[memoKey]memoEntry{}}
}

func (m *applyMemo) lookup(k memoKey) (memoEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[k]
	return e, ok
}

func (m *applyMemo) note(k memoKey, e memoEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; !ok && len(m.m) >= m.max {
		for old := range m.m { // full: forget any one (the next apply of it just is not skipped)
			delete(m.m, old)
			break
		}
	}
	m.m[k] = e
}

func (m *applyMemo) forget(k memoKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, k)
}

func (m *applyMemo) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// pendingApply is an apply about to be sent: what to note once it answers.
type pendingApply struct {
	key  memoKey
	hash [sha256.Size]byte
	ok   bool // false: nothing to note (no cache, or a configuration that did not hash)
}

// unchanged tells whether the apply of cfg to the object can be skipped, and answers the cached object
// when it can; else what to note once the apply answered (see applied).
func (c *KubeCache) unchanged(kind, ns, name string, cfg any) (metav1.Object, pendingApply) {
	if c == nil {
		return nil, pendingApply{}
	}
	h, err := c.hash(cfg)
	if err != nil {
		c.logger.Warn("hash apply configuration: the apply is not skipped", "kind", kind, "namespace", ns, "name", name, "err", err)
		return nil, pendingApply{}
	}
	p := pendingApply{key: memoKey{kind: kind, ns: ns, name: name}, hash: h, ok: true}
	last, ok := c.memo.lookup(p.key)
	if !ok || last.hash != h || !c.Synced() {
		c.sent.Add(1)
		return nil, p
	}
	obj := c.get(kind, ns, name)
	if obj == nil || obj.GetResourceVersion() != last.rv || obj.GetDeletionTimestamp() != nil {
		c.sent.Add(1)
		return nil, p
	}
	c.skipped.Add(1)
	return obj, p
}

// applied notes the answer of an apply that unchanged did not skip.
func (c *KubeCache) applied(p pendingApply, answer metav1.Object) {
	if c == nil || !p.ok || answer == nil || answer.GetResourceVersion() == "" {
		return
	}
	c.memo.note(p.key, memoEntry{hash: p.hash, rv: answer.GetResourceVersion()})
}

// hash is the keyed hash of an apply configuration's JSON, without the release label when
// KeepReleaseLabels.
func (c *KubeCache) hash(cfg any) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	b, err := json.Marshal(cfg)
	if err != nil {
		return out, fmt.Errorf("marshal apply configuration: %w", err)
	}
	if c.cfg.KeepReleaseLabels {
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return out, fmt.Errorf("unmarshal apply configuration: %w", err)
		}
		if md, ok := obj["metadata"].(map[string]any); ok {
			if labels, ok := md["labels"].(map[string]any); ok {
				delete(labels, contract.LabelRelease)
			}
		}
		if b, err = json.Marshal(obj); err != nil {
			return out, fmt.Errorf("marshal apply configuration: %w", err)
		}
	}
	mac := hmac.New(sha256.New, c.memo.secret)
	mac.Write(b)
	copy(out[:], mac.Sum(nil))
	return out, nil
}

// applyOnce runs apply unless the cache shows it cannot change anything; it answers the object as the
// apply answered it, or as the cache holds it when the apply was skipped (never change it).
func applyOnce[T metav1.Object](c *KubeCache, kind, ns, name string, cfg any, apply func() (T, error)) (metav1.Object, bool, error) {
	obj, p := c.unchanged(kind, ns, name, cfg)
	if obj != nil {
		return obj, true, nil
	}
	answer, err := apply()
	if err != nil {
		return nil, false, err
	}
	c.applied(p, answer)
	return answer, false, nil
}
