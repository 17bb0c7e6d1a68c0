package collector

import (
	"context"
	"net"
	"slices"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// watchMembers keeps the member list at the ready endpoints of the collector Service (MembersService)
// until ctx is done. Slices only signal a change; the list is rebuilt from all of them each time.
func (c *Collector) watchMembers(ctx context.Context) {
	ns, svc, _ := strings.Cut(c.cfg.MembersService, "/")
	port := c.cfg.MembersPort
	if port == "" {
		_, port, _ = net.SplitHostPort(c.cfg.Listen)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(c.kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = discoveryv1.LabelServiceName + "=" + svc }))
	inf := factory.Discovery().V1().EndpointSlices()
	kick := make(chan struct{}, 1)
	signal := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { signal() }, UpdateFunc: func(any, any) { signal() }, DeleteFunc: func(any) { signal() },
	}); err != nil {
		c.logger.Error("watch collector endpoints", "err", err)
		return
	}
	lister := inf.Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return
	}
	for {
		eps, err := lister.EndpointSlices(ns).List(labels.Everything())
		if err != nil {
			c.logger.Error("list collector endpoints", "err", err)
		} else if ms := membersFromSlices(eps, port); c.members.set(ms) {
			c.logger.Info("collector members changed", "members", memberNames(ms))
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
	}
}

// membersFromSlices returns the ready endpoints of slices as members named by their pod (or address).
func membersFromSlices(eps []*discoveryv1.EndpointSlice, port string) []Member {
	var out []Member
	for _, s := range eps {
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 || ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			name := ep.Addresses[0]
			if ep.TargetRef != nil && ep.TargetRef.Name != "" {
				name = ep.TargetRef.Name
			}
			out = append(out, Member{Name: name, URL: "http://" + net.JoinHostPort(ep.Addresses[0], port)})
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b Member) bool { return a.Name == b.Name })
}

func memberNames(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
