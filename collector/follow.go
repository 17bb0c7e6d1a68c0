package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/rainflow/rainflow/contract"
)

// The follower writes the runtime output of the pods labelled rainflow.io/component of the apps this
// replica owns into runtime streams (one per component), through the committer like any ingest, so the
// lines are as durable as ingested ones. A pods informer only signals a change; reconcile then compares
// the container instances that should be read with the ones being read, and starts or stops tails
// (follow_tail.go). Each tail resumes from its instance's committed position (follow_positions.go).
//
// For each regular container of a pod: a running instance is followed; a terminated one is read to its
// end once; and when the restart count is above zero, the previous instance's output (Previous: true) is
// read to its end once, so lines written between the last read and the restart are not lost.
//
// Ownership moves (follow_handover.go): before following an app it has just come to own, a replica asks
// the other members for their positions of the app's containers; a member that no longer owns it stops
// its tails of the app first (they commit what they read and save their positions) and then answers.

// resyncPeriod is how often the follower reconciles without a signal, to restart a tail that failed.
const resyncPeriod = 10 * time.Second

// tailMode is how a container instance is read.
type tailMode int

const (
	modeFollow   tailMode = iota // the running instance, until it ends or the tail is stopped
	modeToEnd                    // a terminated instance, once
	modePrevious                 // the previous instance of a restarted container, once
)

// target is one container instance to read.
type target struct {
	id             string
	namespace, pod string
	container      string
	mode           tailMode
	key            StreamKey
	tenant, app    string
	restarts       int32
	podUID         string
}

// appKey is an app, the unit of ownership.
type appKey struct{ tenant, app string }

// running tail of a container instance.
type tail struct {
	app    appKey
	cancel context.CancelFunc
	done   chan struct{}
}

type follower struct {
	kube      kubernetes.Interface
	namespace string
	flush     time.Duration
	maxLine   int
	maxBatch  int
	members   *membership // nil: this replica owns every app
	commit    func(context.Context, *batch) error
	pos       *positions
	// handover asks the other members for the positions of an app's containers (follow_handover.go).
	handover func(ctx context.Context, tenant, app string) map[string]followPos
	openLog  logOpener
	logger   *slog.Logger

	pods listersv1.PodLister
	kick chan struct{}

	mu        sync.Mutex
	tails     map[string]*tail
	owned     map[appKey]bool // apps whose handover is done
	acquiring map[appKey]bool
	bg        sync.WaitGroup // tails and handovers
}

func newFollower(c *Collector, rn *running) (*follower, error) {
	pos, err := openPositions(filepath.Join(c.cfg.DataDir, "follow-positions.json"))
	if err != nil {
		return nil, err
	}
	f := &follower{
		kube: c.kube, namespace: c.cfg.FollowNamespace, flush: c.cfg.FollowFlush,
		maxLine: c.cfg.MaxLineBytes, maxBatch: c.cfg.MaxBatchBytes, members: c.members,
		commit: rn.committer.submit, pos: pos, handover: c.fetchPositions,
		logger: c.logger.With("part", "follow"),
		kick:   make(chan struct{}, 1), tails: make(map[string]*tail),
		owned: make(map[appKey]bool), acquiring: make(map[appKey]bool),
	}
	f.openLog = kubeLogs(f)
	if c.openLog != nil {
		f.openLog = c.openLog
	}
	return f, nil
}

// startBackground starts what runs beside the API while Run runs: the member watcher (EndpointSlices)
// and the runtime follower. The returned func stops them and waits; it is called before the committer
// stops, so that stopped tails can commit what they read.
func (c *Collector) startBackground(ctx context.Context, rn *running) (func(), error) {
	if (c.cfg.FollowRuntime || c.cfg.MembersService != "") && c.kube == nil {
		return nil, errors.New("following runtime output and finding members through a service need a kubernetes client (UseKubernetes)")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if c.cfg.MembersService != "" {
		wg.Go(func() { c.watchMembers(ctx) })
	}
	if c.cfg.FollowRuntime {
		f, err := newFollower(c, rn)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		c.follower.Store(f)
		wg.Go(func() {
			if err := f.run(ctx); err != nil {
				c.logger.Error("runtime follower stopped", "err", err)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
		c.follower.Store(nil)
	}, nil
}

func (f *follower) signal() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run follows until ctx is done, then stops every tail (each commits what it has read) and returns.
func (f *follower) run(ctx context.Context) error {
	defer f.stopAll()
	factory := informers.NewSharedInformerFactoryWithOptions(f.kube, 0, informers.WithNamespace(f.namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = contract.LabelComponent }))
	podInformer := factory.Core().V1().Pods()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { f.signal() },
		UpdateFunc: func(any, any) { f.signal() },
		DeleteFunc: func(any) { f.signal() },
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	f.pods = podInformer.Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		return nil // ctx ended first
	}
	f.logger.Info("following runtime output", "namespace", f.namespace)
	resync := time.NewTicker(resyncPeriod)
	defer resync.Stop()
	for {
		var changed <-chan struct{}
		if f.members != nil {
			changed = f.members.watch()
		}
		f.reconcile(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-f.kick:
		case <-changed:
		case <-resync.C:
		}
	}
}

// reconcile starts the tails that should run and stops the ones that should not.
func (f *follower) reconcile(ctx context.Context) {
	pods, err := f.pods.List(labels.Everything())
	if err != nil {
		f.logger.Error("list pods", "err", err)
		return
	}
	want := make(map[string]target)
	uids := make(map[string]bool)
	for _, p := range pods {
		uids[string(p.UID)] = true
		for _, t := range targets(p) {
			if err := t.key.Validate(); err != nil {
				f.logger.Warn("pod not followed", "namespace", p.Namespace, "pod", p.Name, "err", err)
				break
			}
			if f.readable(ctx, appKey{t.tenant, t.app}) {
				if pos, ok := f.pos.get(t.id); !ok || !pos.Done {
					want[t.id] = t
				}
			}
		}
	}
	if err := f.pos.prune(func(id string) bool { return uids[podUIDOf(id)] }); err != nil {
		f.logger.Error("prune follow positions", "err", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, tl := range f.tails {
		if _, ok := want[id]; !ok {
			tl.cancel()
		}
	}
	for id, t := range want {
		if f.tails[id] != nil || f.members != nil && !f.owned[appKey{t.tenant, t.app}] { // released meanwhile
			continue
		}
		tctx, cancel := context.WithCancel(ctx)
		tl := &tail{app: appKey{t.tenant, t.app}, cancel: cancel, done: make(chan struct{})}
		f.tails[id] = tl
		f.bg.Go(func() {
			defer close(tl.done)
			defer cancel()
			f.runTail(tctx, t)
			f.mu.Lock()
			if f.tails[id] == tl {
				delete(f.tails, id)
			}
			f.mu.Unlock()
			f.signal() // the next mode of this instance (read to the end, previous) may be due
		})
	}
}

// readable says whether the app's containers may be read here now: this replica owns the app and the
// handover from the other members is done. It starts the handover when the app is newly owned, and
// forgets an app this replica no longer owns.
func (f *follower) readable(ctx context.Context, a appKey) bool {
	if f.members == nil {
		return true
	}
	_, local, _ := f.members.owner(a.tenant, a.app)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !local {
		delete(f.owned, a)
		return false
	}
	if f.owned[a] {
		return true
	}
	if !f.acquiring[a] {
		f.acquiring[a] = true
		f.bg.Go(func() {
			got := f.handover(ctx, a.tenant, a.app)
			if err := f.pos.merge(got); err != nil {
				f.logger.Error("save handed over positions", "tenant", a.tenant, "app", a.app, "err", err)
			}
			f.mu.Lock()
			delete(f.acquiring, a)
			if ctx.Err() == nil {
				f.owned[a] = true
			}
			f.mu.Unlock()
			f.signal()
		})
	}
	return false
}

// release stops following an app this replica no longer owns and waits until its tails have committed
// what they read. It is the old owner's half of a handover.
func (f *follower) release(a appKey) {
	f.mu.Lock()
	delete(f.owned, a)
	var done []chan struct{}
	for _, tl := range f.tails {
		if tl.app == a {
			tl.cancel()
			done = append(done, tl.done)
		}
	}
	f.mu.Unlock()
	for _, d := range done {
		<-d
	}
}

// stopAll stops every tail and handover and waits for them.
func (f *follower) stopAll() {
	f.mu.Lock()
	for _, tl := range f.tails {
		tl.cancel()
	}
	f.mu.Unlock()
	f.bg.Wait()
}

// targets lists the container instances of a pod that may have output to read.
func targets(p *corev1.Pod) []target {
	tenant := p.Labels[contract.LabelTenant]
	if tenant == "" {
		tenant = p.Namespace
	}
	app, component := p.Labels[contract.LabelApp], p.Labels[contract.LabelComponent]
	key := StreamKey{Kind: KindRuntime, Tenant: tenant, App: app, Name: component}
	var out []target
	for _, cs := range p.Status.ContainerStatuses {
		base := target{namespace: p.Namespace, pod: p.Name, container: cs.Name, key: key, tenant: tenant, app: app, podUID: string(p.UID)}
		if cs.RestartCount > 0 {
			prev := base
			prev.mode, prev.restarts = modePrevious, cs.RestartCount-1
			prev.id = containerID(prev.podUID, cs.Name, prev.restarts)
			out = append(out, prev)
		}
		cur := base
		cur.restarts = cs.RestartCount
		cur.id = containerID(cur.podUID, cs.Name, cur.restarts)
		switch {
		case cs.State.Running != nil:
			cur.mode = modeFollow
		case cs.State.Terminated != nil:
			cur.mode = modeToEnd
		default: // waiting: not started, or between restarts (the previous instance is read above)
			continue
		}
		out = append(out, cur)
	}
	return out
}

// podUIDOf is the pod uid part of a containerID.
func podUIDOf(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i]
		}
	}
	return id
}
